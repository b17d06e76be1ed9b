"""The domain: models, intake, keyring persistence, pseudonymisation, exports and audit.

No Flask and no click here; configuration arrives as arguments from ``api``.
"""
