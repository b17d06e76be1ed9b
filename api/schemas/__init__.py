"""Marshmallow schemas for every body the REST API reads and every document it answers.

Names follow ODK Central (camelCase on the wire, ``data_key``); attributes are the models'
snake_case names, so most documents dump straight from a model row or a small view.
"""
