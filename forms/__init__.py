"""Survey toolkit: the shipped XLSForms, the pyxform build, the PII policy and the XForm model.

This room imports pyxform, openpyxl and the standard library only; no database, no HTTP.
Where things are:

- ``build.build_xform``: XLSForm -> XForm bytes + PII policy, public key and submission URL in.
- ``check.check_xlsform``: every pyxform and lint finding, never raising for a bad survey.
- ``policy``: ``PIIKind``, ``PIIRule``, ``PIIPolicy`` (JSON round trip, ``rule_for(path)``).
- ``model.parse_xform`` and ``flatten_instance``: fields, groups, repeats, choices, labels;
  one submission -> a root row and repeat rows joined by keys.
- ``errors``: ``FormError``, ``Finding`` and the ``ErrorCode`` catalogue.
- ``surveys``: the shipped .xlsx files (``surveys.path(name)``) and their Python source.
"""
