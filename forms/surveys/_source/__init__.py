"""The readable source of truth of the shipped surveys; ``generate`` writes the .xlsx files.

Regenerate after any change: ``python -m forms.surveys._source.generate``.
"""
