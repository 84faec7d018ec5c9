"""A study -> SDTM datasets (XPT v5 and Dataset-JSON 1.1), written exactly as the mapping reads them.

Used by ``cartalysis twin NAME --format sdtm`` so that ``import sdtm`` can be
tested on whole studies: the mapping is read in reverse (a finding
``ecog = "SC.ECOG"`` becomes an SC record with SCTESTCD=ECOG, ...). Values
are written as they are: yes/no as Y/N, categories in upper case unless the
mapping names the sponsor's term, numbers in --STRESN, dates as ISO 8601.
Only what the study holds is written; nothing is added.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from cartalysis.study.errors import UsageError
from cartalysis.study.formats import Column
from cartalysis.study.importers.domains import number_text, write_domain
from cartalysis.study.importers.mapping import Finding, finding, load_mapping, where_of
from cartalysis.study.load import Study
from cartalysis.study.spec import TABLES_BY_NAME

LABELS = {
    "DM": "Demographics", "SUPPDM": "Supplemental Qualifiers for DM", "SC": "Subject Characteristics",
    "ZP": "Product Characteristics (sponsor-defined)", "EX": "Exposure", "PR": "Procedures", "DS": "Disposition",
    "RS": "Disease Response", "MB": "Microbiology Specimen", "CE": "Clinical Events",
    "SUPPCE": "Supplemental Qualifiers for CE", "CM": "Concomitant/Concurrent Medications", "SS": "Subject Status",
    "DD": "Death Details", "AE": "Adverse Events", "SUPPAE": "Supplemental Qualifiers for AE",
    "FA": "Findings About Events or Interventions", "PC": "Pharmacokinetics Concentrations", "LB": "Laboratory Test Results",
}
NUMERIC = {"AGE", "EXDOSE", "CMDOSE", "PCSTRESN", "PCLLOQ", "LBSTRESN"}


def _text(v: Any, dtype: str) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if dtype == "date":
        return pd.Timestamp(v).date().isoformat()
    if dtype == "bool":
        return "Y" if bool(v) else "N"
    if dtype in ("int", "float"):
        return number_text(float(v))
    return str(v)


class Writer:
    def __init__(self, study: Study, study_id: str, mapping: dict[str, Any]):
        self.st = study
        self.sid = study_id
        self.m = mapping
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.pid_usubjid = {p: f"{study_id}-{p}" for p in study.tables["subjects"]["patient_id"]}
        self.seq: dict[tuple[str, str], int] = defaultdict(int)

    def add(self, dom: str, pid: str, **values: Any) -> dict[str, Any]:
        base = dom[4:] if dom.startswith("SUPP") else dom
        rec = {"STUDYID": self.sid, ("RDOMAIN" if dom.startswith("SUPP") else "DOMAIN"): base, "USUBJID": self.pid_usubjid[pid]}
        if not dom.startswith("SUPP") and dom != "DM":
            self.seq[(dom, pid)] += 1
            rec[f"{dom}SEQ"] = self.seq[(dom, pid)]
        rec.update(values)
        self.rows[dom].append(rec)
        return rec

    # ---------------------------------------------------------------- findings

    def findings(self, table: str, spec_map: dict[str, Any], key_cols: tuple[str, ...], dtc: str, eval_map: dict[str, str] | None = None) -> None:
        """One record per (finding source, table row); findings sharing domain+testcd share the record."""
        frame = self.st.tables[table]
        tspec = TABLES_BY_NAME[table]
        fs = [finding(c, s) for c, s in spec_map.items()]
        rev_eval = {v: k for k, v in (eval_map or {}).items()}
        groups: dict[tuple, list[Finding]] = defaultdict(list)
        for f in fs:
            groups[(f.domain, f.testcd, tuple(sorted(f.where.items())))].append(f)
        for (dom, testcd, where), flist in groups.items():
            for r in frame.to_dict("records"):
                values: dict[str, Any] = {}
                for f in flist:
                    col = tspec.column(f.column)
                    text = _text(r[f.column], col.dtype)
                    if text == "":
                        continue
                    if f.values:
                        model = {"Y": "yes", "N": "no"}.get(text, text) if col.dtype == "bool" else text
                        text = {v: k for k, v in reversed(list(f.values.items()))}[model]
                    elif col.dtype == "category":
                        text = text.upper()
                    if f.var:
                        values[f.var] = text
                    else:
                        values[f"{dom}ORRES"] = values[f"{dom}STRESC"] = text
                        if col.dtype in ("int", "float") and not f.values:
                            values[f"{dom}STRESN"] = float(r[f.column])
                if not values:
                    continue
                rec = {f"{dom}TESTCD": testcd, f"{dom}TEST": tspec.column(flist[0].column).description[:40]}
                rec.update({k: v[0] for k, v in where})
                rec.update(values)
                if dtc:
                    rec[f"{dom}DTC"] = _text(r[dtc], "date")
                if eval_map is not None:
                    a = r.get("assessor")
                    rec[f"{dom}EVAL"] = rev_eval[a] if isinstance(a, str) else ""
                self.add(dom, r["patient_id"], **rec)

    # ---------------------------------------------------------------- tables

    def subjects(self) -> None:
        s = self.m["subjects"]
        subj = self.st.tables["subjects"]
        sex_rev = {v: k for k, v in s["sex"]["values"].items()}
        ne_var, ne_vals = next(iter(s["not_enrolled"].items()))
        extras = [c for c in subj.columns if c not in TABLES_BY_NAME["subjects"].names]
        deaths = self.st.tables["events"][self.st.tables["events"]["event"] == "death"].set_index("patient_id")
        for r in subj.to_dict("records"):
            pid = r["patient_id"]
            enrolled = bool(r["enrolled"])
            infused = _text(r["infusion_date"], "date")
            death = _text(deaths["date"].get(pid), "date") if pid in deaths.index else ""
            self.add("DM", pid, **{
                s["patient_id"]: pid, s["site"]: r["site"], s["sex"]["var"]: sex_rev.get(r["sex"], "") if isinstance(r["sex"], str) else "",
                s["age"]["var"]: r["age"], s["age"]["unit_var"]: s["age"]["unit"] if not pd.isna(r["age"]) else "",
                s["race"]: _text(r["race"], "str"), s["screening_date"]: _text(r["screening_date"], "date"),
                "RFSTDTC": infused, "RFXSTDTC": infused, s["death_date"]: death, "DTHFL": "Y" if death else "",
                "ARMCD": "CART" if enrolled else "", "ARM": "CAR-T" if enrolled else "",
                "ACTARMCD": "CART" if infused else "", "ACTARM": "CAR-T" if infused else "",
                ne_var.upper(): (ne_vals[0] if isinstance(ne_vals, list) else ne_vals) if not enrolled else ("" if infused else "ASSIGNED, NOT TREATED"),
            })
            for c in extras:
                text = _text(r[c], "float" if isinstance(r[c], float) else "str")
                if text:
                    self.add("SUPPDM", pid, IDVAR="", IDVARVAL="", QNAM=c.upper()[:8], QLABEL=c, QVAL=text, QORIG="CRF")
        ms = s["milestones"]
        for r in subj.to_dict("records"):
            pid = r["patient_id"]
            aph = _text(r["apheresis_date"], "date")
            if aph:
                sp = ms["apheresis_date"]
                self.add(sp["domain"], pid, **_where_values(sp), **{sp["date"]: aph})
            rel = _text(r["release_date"], "date")
            if rel:
                sp = ms["release_date"]
                w = _where_values(sp)
                self.add(sp["domain"], pid, **w, DSTERM=w.get("DSDECOD", ""), **{sp["date"]: rel})
            ld0, ld1 = _text(r["ld_start_date"], "date"), _text(r["ld_end_date"], "date")
            if ld0 or ld1:
                sp = ms["ld_start_date"]
                self.add(sp["domain"], pid, EXTRT="LYMPHODEPLETING CHEMOTHERAPY", **_where_values(sp),
                         **{sp["date"]: ld0, ms["ld_end_date"]["date"]: ld1})
            inf = _text(r["infusion_date"], "date")
            dose = _text(r["dose_car_cells"], "float")
            if inf or dose:
                sp = ms["infusion_date"]
                unit = next(k for k, v in self.m["subjects"]["dose"]["units"].items() if float(v) == 1.0)
                dom = sp["domain"]
                self.add(dom, pid, **{f"{dom}TRT": "CAR-T CELLS"}, **_where_values(sp), **{sp["date"]: inf, f"{dom}ENDTC": inf,
                         f"{dom}DOSE": r["dose_car_cells"], f"{dom}DOSU": unit if dose else ""})
            stage = r["discontinuation_stage"]
            if isinstance(stage, str):
                d = s["discontinuation"]
                epoch = {v: k for k, v in d["stages"].items()}[stage]
                reason = _text(r["discontinuation_reason"], "str")
                self.add(d["domain"], pid, **_where_values(d), **{d["stage_var"]: epoch, d["reason_var"]: reason, "DSDECOD": reason.upper()})
        self.findings("subjects", s["findings"], ("patient_id",), "screening_date")

    def assessments(self) -> None:
        a = self.m["assessments"]
        self.findings("assessments", a["findings"], ("patient_id", "date", "assessor"), "date", a["assessors"])

    def events(self) -> None:
        e = self.m["events"]
        for r in self.st.tables["events"].to_dict("records"):
            ev, pid, date = r["event"], r["patient_id"], _text(r["date"], "date")
            detail = _text(r["detail"], "str")
            if ev == "death":
                if detail:
                    c = e["death_cause"]
                    self.add(c["domain"], pid, **_where_values(c), DDTEST="Primary Cause of Death", **{c["var"]: detail, f"{c['domain']}DTC": date})
                continue
            sp = e[ev]
            dom = sp["domain"]
            w = _where_values(sp)
            rev = {v: k for k, v in reversed(list(sp.get("details", {}).items()))}
            code = rev.get(detail, "") if detail else ""
            extra: dict[str, Any] = {}
            if ev == "relapse":
                extra = {"CETERM": w.get("CEDECOD", "")}
            elif ev == "hsct":
                extra = {"PRTRT": code or rev.get("", "HSCT")}
            elif ev == "new_therapy":
                extra = {"CMTRT": code or "ANTICANCER THERAPY", "CMSCAT": code}
            elif ev == "last_contact":
                extra = {"SSTEST": "Survival Status", "SSORRES": w.get("SSSTRESC", "")}
            if sp.get("detail_var"):
                extra[sp["detail_var"]] = code
            rec = self.add(dom, pid, **w, **extra, **{sp["date"]: date})
            if sp.get("detail_supp") and code:
                self.add(f"SUPP{dom}", pid, IDVAR=f"{dom}SEQ", IDVARVAL=str(rec[f"{dom}SEQ"]), QNAM=sp["detail_supp"],
                         QLABEL="CD19 Status of Relapse", QVAL=code, QORIG="CRF")

    def adverse_events(self) -> None:
        a = self.m["adverse_events"]
        astct = {t.upper() for t in a.get("astct_terms", [])}
        g = a.get("astct_grade", {})
        for r in self.st.tables["adverse_events"].to_dict("records"):
            pid, term = r["patient_id"], r["term"]
            is_astct = term.upper() in astct
            grade = _text(r["grade"], "int")
            rec = self.add("AE", pid, AETERM=term, **{
                a["term"]: term, a["soc"]: _text(r["soc"], "str"), a["onset_date"]: _text(r["onset_date"], "date"),
                a["end_date"]: _text(r["end_date"], "date"), a["grade"]: "" if is_astct else grade,
                a["serious"]: _text(r["serious"], "bool"), a["related"]["var"]: _text(r["related"], "bool")})
            if is_astct:
                if g.get("supp"):
                    self.add("SUPPAE", pid, IDVAR="AESEQ", IDVARVAL=str(rec["AESEQ"]), QNAM=g["supp"], QLABEL="ASTCT 2019 Grade", QVAL=grade, QORIG="CRF")
                else:
                    rec["AELNKID"] = str(rec["AESEQ"])
                    self.add(g["domain"], pid, **{f"{g['domain']}TESTCD": g["testcd"], f"{g['domain']}ORRES": grade,
                                                 f"{g['domain']}STRESC": grade, f"{g['domain']}LNKID": rec["AELNKID"], f"{g['domain']}OBJ": term.upper()})

    def toxicity_daily(self) -> None:
        t = self.m["toxicity_daily"]
        self.findings("toxicity_daily", t["findings"], ("patient_id", "date"), "date")
        tox = self.st.tables["toxicity_daily"]
        for col, sp in t["medications"].items():
            w = _where_values(sp)
            dom = sp["domain"]
            for r in tox[tox[col].notna()].to_dict("records"):
                d = _text(r["date"], "date")
                rec = {**w, f"{dom}PRESP": "Y", f"{dom}OCCUR": "Y" if bool(r[col]) else "N", f"{dom}STDTC": d, f"{dom}ENDTC": d}
                self.add(dom, r["patient_id"], **rec)

    def infections(self) -> None:
        m = self.m["infections"]
        dom = m["domain"]
        site_rev = {v: k for k, v in m["site"]["values"].items()}
        class_rev = {v: k for k, v in m["pathogen_class"]["values"].items()}
        for r in self.st.tables["infections"].to_dict("records"):
            pid = r["patient_id"]
            pathogen = _text(r["pathogen"], "str")
            rec = self.add(dom, pid, **_where_values(m), **{
                f"{dom}TERM": "INFECTION", f"{dom}STDTC": _text(r["onset_date"], "date"), f"{dom}ENDTC": _text(r["end_date"], "date"),
                m["site"]["var"]: site_rev.get(r["site"], "") if isinstance(r["site"], str) else "",
                m["grade"]: _text(r["grade"], "int"), m["serious"]: _text(r["serious"], "bool"),
                m["related"]["var"]: _text(r["related"], "bool")})
            for qnam, label, val in ((m["pathogen_supp"], "Pathogen", pathogen),
                                     (m["pathogen_class"]["supp"], "Pathogen Class", class_rev[r["pathogen_class"]])):
                if val:
                    self.add(f"SUPP{dom}", pid, IDVAR=f"{dom}SEQ", IDVARVAL=str(rec[f"{dom}SEQ"]), QNAM=qnam, QLABEL=label, QVAL=val, QORIG="CRF")

    def concomitant_meds(self) -> None:
        m = self.m["concomitant_meds"]
        dom = m["domain"]
        med_rev = {v: k for k, v in m.get("medications", {}).items()}
        ind_rev = {v: k for k, v in m.get("indications", {}).items()}
        for r in self.st.tables["concomitant_meds"].to_dict("records"):
            med = r["medication"]
            decod = med_rev.get(med, med.upper())
            ind = r["indication"] if isinstance(r["indication"], str) else ""
            self.add(dom, r["patient_id"], **_where_values(m), **{
                f"{dom}TRT": _text(r["name"], "str"), f"{dom}DECOD": decod, f"{dom}STDTC": _text(r["start_date"], "date"),
                f"{dom}ENDTC": _text(r["end_date"], "date"), f"{dom}DOSE": r["dose"], f"{dom}DOSU": _text(r["dose_unit"], "str"),
                f"{dom}INDC": ind_rev.get(ind, ind.upper())})

    def kinetics(self) -> None:
        subj = self.st.tables["subjects"].set_index("patient_id")["infusion_date"]
        p = self.m["pk"]
        dom = p["domain"]
        rev = {v: k for k, v in p["matrix"]["values"].items()}
        for r in self.st.tables["pk"].to_dict("records"):
            day = float(r["day"])
            self.add(dom, r["patient_id"], **_where_values(p), **{
                f"{dom}TEST": "CAR Transgene", p["matrix"]["var"]: rev[r["matrix"]], f"{dom}ORRES": _text(r["value"], "float"),
                f"{dom}STRESN": r["value"], f"{dom}STRESU": _text(r["unit"], "str"), f"{dom}LLOQ": r["lloq"],
                f"{dom}ELTM": _eltm(day), f"{dom}TPTREF": "CAR-T INFUSION", f"{dom}DTC": _day_date(subj.get(r["patient_id"]), day)})
        lb = self.m["labs"]
        dom = lb["domain"]
        rev = {v: k for k, v in lb.get("tests", {}).items()}
        for r in self.st.tables["labs"].to_dict("records"):
            day = float(r["day"])
            code = rev.get(r["test"], r["test"].upper())
            self.add(dom, r["patient_id"], **_where_values(lb), **{
                f"{dom}TESTCD": code, f"{dom}TEST": r["test"], f"{dom}ORRES": _text(r["value"], "float"),
                f"{dom}STRESN": r["value"], f"{dom}STRESU": _text(r["unit"], "str"),
                f"{dom}ELTM": _eltm(day), f"{dom}TPTREF": "CAR-T INFUSION", f"{dom}DTC": _day_date(subj.get(r["patient_id"]), day)})


def _where_values(spec: dict[str, Any]) -> dict[str, str]:
    return {k: v[0] for k, v in where_of(spec).items()}


def _eltm(day: float) -> str:
    """Days as an ISO 8601 duration, exact: ``P0.25D``, ``-P1D``."""
    return ("-" if day < 0 else "") + f"P{number_text(abs(day))}D"


def _day_date(infusion: Any, day: float) -> str:
    if infusion is None or pd.isna(infusion):
        return ""
    return (pd.Timestamp(infusion) + pd.Timedelta(days=math.floor(day))).date().isoformat()


def _variables(dom: str, rows: list[dict[str, Any]]) -> list[Column]:
    names: list[str] = []
    for r in rows:
        for k in r:
            if k not in names:
                names.append(k)
    out = []
    for n in names:
        if len(n) > 8:
            raise UsageError(f"SDTM variable name {n!r} is longer than 8 characters (check the mapping)")
        out.append(Column(n, n, "number" if n in NUMERIC or n.endswith("STRESN") or n.endswith("SEQ") else "text"))
    return out


def export_sdtm(study: Study, out: Path | str, study_id: str | None = None, mapping: Path | None = None) -> list[Path]:
    """Write ``study`` as SDTM into ``out/xpt/*.xpt`` and ``out/json/*.json`` (plus the study's ``sap.toml``
    in each, so ``import sdtm`` carries the plan over). Returns the two folders."""
    m = load_mapping(mapping)
    sid = (study_id or study.name).upper()
    w = Writer(study, sid, m)
    w.subjects()
    w.assessments()
    w.events()
    w.adverse_events()
    w.toxicity_daily()
    w.kinetics()
    w.infections()
    w.concomitant_meds()
    dates = [frame[c].max() for frame in study.tables.values() for c in frame.columns
             if pd.api.types.is_datetime64_any_dtype(frame[c]) and frame[c].notna().any()]
    created = (max(dates).date().isoformat() if dates else "2000-01-01") + "T00:00:00"
    out = Path(out)
    folders = [out / "xpt", out / "json"]
    try:
        for f in folders:
            f.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot write {out}: {e.strerror or e}") from None
    for dom in sorted(w.rows):
        rows = w.rows[dom]
        variables = _variables(dom, rows)
        for r in rows:
            for v in variables:
                x = r.get(v.name)
                if v.kind == "text" and x is not None and len(str(x).encode("utf-8")) > 200:
                    raise UsageError(f"{dom}.{v.name}: a value longer than 200 bytes cannot be written to SAS XPT v5: {str(x)[:40]}...")
        label = LABELS.get(dom, dom)
        write_domain(folders[0] / f"{dom.lower()}.xpt", dom, label, variables, rows, sid, created)
        write_domain(folders[1] / f"{dom.lower()}.json", dom, label, variables, rows, sid, created)
    if study.plan_path is not None:
        for f in folders:
            (f / "sap.toml").write_bytes(Path(study.plan_path).read_bytes())
    return folders
