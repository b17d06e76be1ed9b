"""Survey toolkit: the shipped XLSForms, the pyxform build, the PII policy and the XForm model.

This room imports pyxform and the standard library only; no database, no HTTP.
"""
