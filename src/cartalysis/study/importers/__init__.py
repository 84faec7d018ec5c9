"""Importers: other formats of the field -> a study folder in the CSV layout (docs/importers.md).

``sdtm`` reads CDISC SDTM (XPT or Dataset-JSON) through a TOML mapping;
``redcap`` reads a REDCap flat export of the shipped CAR-T registry project.
Both write the study plus ``import-report.md`` and validate what they wrote.
"""
