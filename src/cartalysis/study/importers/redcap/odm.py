"""CDISC ODM 1.3 XML (REDCap's "CDISC ODM" export, OpenClinica's extract) -> the rows of a REDCap flat export.

ODM nests the same data the flat export lists: ``SubjectData`` (SubjectKey = record
id; the site in REDCap's ``redcap:DataAccessGroup`` attribute or ``SiteRef``) >
``StudyEventData`` (``StudyEventOID`` = ``Event.<unique event name>``) >
``FormData`` (``FormOID`` = ``Form.<instrument>``, ``FormRepeatKey`` = repeat
instance) > ``ItemGroupData`` > ``ItemData`` (``ItemOID`` = field name,
checkboxes as ``field___code``; ``Value``). Each non-repeating event and each
repeating form instance becomes one row, numbered by the XML line of its first
element, so ``flat.import_redcap`` reads ODM and CSV alike and locates problems
as ``export.xml:line:field``.

Parsed with lxml (already installed with python-docx) with entity resolution,
DTD loading and network access off, so a hostile file cannot expand entities or
read local files.
"""

from __future__ import annotations

import numpy as np

from cartalysis.study.errors import Problem
from cartalysis.study.read import RawTable

SPECIAL = ("redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group")


def _local(tag: object) -> str:
    return tag.split("}", 1)[1] if isinstance(tag, str) and "}" in tag else str(tag)


def _attr(el, name: str) -> str:
    """An attribute by local name, whatever its namespace (``redcap:DataAccessGroup``)."""
    for k, v in el.attrib.items():
        if _local(k) == name:
            return v.strip()
    return ""


def read_odm(file: str, data: bytes, record_field: str, repeating_forms: set[str]) -> tuple[RawTable | None, list[Problem]]:
    """The ODM document as flat-export rows (see the module docstring); ``None`` with a problem when unreadable."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        return None, [Problem(file, e.lineno or None, None, f"not well-formed XML: {e.msg}")]
    if _local(root.tag) != "ODM":
        return None, [Problem(file, root.sourceline, None, f"not a CDISC ODM file (root element {_local(root.tag)!r})")]
    problems: list[Problem] = []
    rows: list[tuple[int, dict[str, str]]] = []
    for subject in root.iter("{*}SubjectData"):
        rid = _attr(subject, "SubjectKey")
        dag = _attr(subject, "DataAccessGroup")
        if not dag:
            site = next(subject.iter("{*}SiteRef"), None)
            dag = _attr(site, "LocationOID") if site is not None else ""
        for event in subject.iter("{*}StudyEventData"):
            name = _attr(event, "StudyEventOID").removeprefix("Event.")
            base: dict[str, str] = {record_field: rid, "redcap_event_name": name, "redcap_data_access_group": dag}
            plain: dict[str, str] = {}
            line = event.sourceline
            for form in event.iter("{*}FormData"):
                fname = _attr(form, "FormOID").removeprefix("Form.")
                items = {}
                for item in form.iter("{*}ItemData"):
                    oid = _attr(item, "ItemOID")
                    if oid in items:
                        problems.append(Problem(file, item.sourceline, oid, f"item {oid} appears twice in form {fname}"))
                    items[oid] = _attr(item, "Value")
                if fname in repeating_forms:
                    rows.append((form.sourceline, {**base, "redcap_repeat_instrument": fname,
                                                   "redcap_repeat_instance": _attr(form, "FormRepeatKey") or "1", **items}))
                else:
                    plain.update(items)
            if plain:
                rows.append((line, {**base, "redcap_repeat_instrument": "", "redcap_repeat_instance": "", **plain}))
    if not rows:
        return None, [Problem(file, None, None, "no SubjectData with form data in the ODM file")]
    rows.sort(key=lambda r: r[0])
    header: list[str] = [record_field, *SPECIAL]
    for _, r in rows:
        header += [k for k in r if k not in header]
    columns = tuple(np.array([r.get(h, "") for _, r in rows], dtype=object) for h in header)
    return RawTable("export", file, tuple(header), np.array([line for line, _ in rows], dtype=np.int64), columns), problems


def flat_to_odm(flat_csv: str, study_oid: str = "cartalysis") -> str:
    """A flat export (CSV text) as ODM 1.3 XML that ``read_odm`` reads back (for tests: the non-repeating forms of a
    row are written as one ``Form.nonrepeating``, which REDCap itself would split by instrument)."""
    import csv
    import io
    from xml.sax.saxutils import quoteattr

    rows = list(csv.DictReader(io.StringIO(flat_csv)))
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:redcap="https://projectredcap.org" ODMVersion="1.3.1" '
           'FileType="Snapshot" FileOID="cartalysis.export">',
           f'<ClinicalData StudyOID={quoteattr(study_oid)} MetaDataVersionOID="Metadata.1">']
    specials = set(SPECIAL) | {"record_id"}
    subject = None
    for r in rows:
        if r["record_id"] != subject:
            if subject is not None:
                out.append("</SubjectData>")
            subject = r["record_id"]
            out.append(f'<SubjectData SubjectKey={quoteattr(subject)} redcap:DataAccessGroup={quoteattr(r.get("redcap_data_access_group", ""))}>')
        form = r["redcap_repeat_instrument"]
        out.append(f'<StudyEventData StudyEventOID={quoteattr("Event." + r["redcap_event_name"])}>')
        repeat = f' FormRepeatKey={quoteattr(r["redcap_repeat_instance"])}' if form else ""
        out.append(f'<FormData FormOID={quoteattr("Form." + (form or "nonrepeating"))}{repeat}><ItemGroupData ItemGroupOID="IG.1">')
        for k, v in r.items():
            if k not in specials and not k.endswith("_complete") and v != "":
                out.append(f"<ItemData ItemOID={quoteattr(k)} Value={quoteattr(v)}/>")
        out.append("</ItemGroupData></FormData></StudyEventData>")
    if subject is not None:
        out.append("</SubjectData>")
    out += ["</ClinicalData>", "</ODM>"]
    return "\n".join(out) + "\n"
