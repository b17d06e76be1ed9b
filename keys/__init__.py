"""Crypto core: ODK submission crypto, keyring sealing, master-key sources, AEAD and pseudonyms.

This room imports only ``cryptography``; nothing else of the project.
"""
