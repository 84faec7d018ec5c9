"""``cartalysis import sdtm``: SDTM datasets (XPT or Dataset-JSON) -> a study in the CSV layout.

What feeds what is the mapping (``sdtm_mapping.toml``, see ``mapping.py`` and
``docs/importers.md``). Nothing is invented: a study column with no source
stays empty, every row that is not used is counted in ``import-report.md``
with the reason, and every value that does not fit its column is a located
problem ``file:row:VARIABLE: message`` (rows as in the dataset exported to CSV).
The written study is then checked by the ordinary ``validate``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from cartalysis.study.errors import UsageError
from cartalysis.study.importers.common import Imported, iso_date, lookup, norm, number_text, to_model, write_study
from cartalysis.study.importers.mapping import Finding, finding, load_mapping, where_of
from cartalysis.study.importers.sdtm_source import SdtmSource, where_text, eltm_days
from cartalysis.study.load import sort_problems
from cartalysis.study.spec import TABLES_BY_NAME

SUBJ = TABLES_BY_NAME["subjects"]


class Importer(SdtmSource):
    """The study tables, each built from its mapping entries."""

    def subjects(self) -> tuple[list[dict[str, str]], list[str]]:
        s = self.m["subjects"]
        dm = self.source("DM")
        rows: dict[str, dict[str, str]] = {}
        pid_var = s["patient_id"]
        dm_t = self.log.tally(dm.file)
        for i, r in zip(dm.dom.numbers, dm.dom.rows):
            u, pid = r.get("USUBJID", ""), r.get(pid_var, "") or r.get("USUBJID", "")
            if not u:
                self.log.problem(dm.file, i, "USUBJID", "empty USUBJID")
                continue
            if u in self.usubjid or pid in rows:
                self.log.problem(dm.file, i, "USUBJID", f"subject {u!r} appears twice in DM")
                continue
            self.usubjid[u] = pid
            row = {"patient_id": pid}
            for col in ("site", "race", "screening_date"):
                var = s.get(col)
                if var:
                    v, why = to_model(r.get(var, ""), SUBJ.column(col))
                    if why:
                        self.log.problem(dm.file, i, var, f"subjects.{col}: {why}")
                    row[col] = v or ""
            sex = s["sex"]
            v, why = to_model(r.get(sex["var"], ""), SUBJ.column("sex"), sex.get("values"))
            if why:
                self.log.problem(dm.file, i, sex["var"], f"subjects.sex: {why}")
            row["sex"] = v or ""
            age = s["age"]
            if r.get(age["var"], ""):
                unit = r.get(age.get("unit_var", ""), age.get("unit", ""))
                if unit.upper() != age.get("unit", "YEARS").upper():
                    self.log.problem(dm.file, i, age.get("unit_var", age["var"]), f"subjects.age: unit {unit!r} is not {age.get('unit', 'YEARS')}; age left empty")
                else:
                    v, why = to_model(r[age["var"]], SUBJ.column("age"))
                    if why:
                        self.log.problem(dm.file, i, age["var"], f"subjects.age: {why}")
                    row["age"] = v or ""
            not_enrolled = any(r.get(k.upper(), "").upper() in {x.upper() for x in (v if isinstance(v, list) else [v])}
                               for k, v in s["not_enrolled"].items())
            row["enrolled"] = "no" if not_enrolled else "yes"
            dth = r.get(s["death_date"], "")
            if dth:
                d, why = iso_date(dth)
                if why:
                    self.log.problem(dm.file, i, s["death_date"], f"death date: {why}")
                row["_death"] = d or ""
            dm_t.use(i)
            rows[pid] = row
        self.sources.update({"subjects.patient_id": f"DM {pid_var}", "subjects.site": f"DM {s['site']}",
                             "subjects.sex": f"DM {s['sex']['var']}", "subjects.age": f"DM {s['age']['var']}",
                             "subjects.race": f"DM {s['race']}", "subjects.screening_date": f"DM {s['screening_date']}",
                             "subjects.enrolled": "DM " + "/".join(s["not_enrolled"])})
        for k in list(self._cache):  # domains read before DM was known must be re-read
            if k != "DM":
                del self._cache[k]

        for col, spec in s.get("milestones", {}).items():
            self._milestone(rows, col, spec)
        self._dose(rows, s.get("dose"))
        self._discontinuation(rows, s.get("discontinuation"))
        for col, spec in s.get("findings", {}).items():
            f = finding(col, spec)

            def key(pid, dom, i, r, f=f):
                return (pid,)

            for (pid,), (v, _, _) in self._baseline(f, key).items():
                rows[pid][col] = v
        extras = self._extras(rows, s.get("extra_from"))
        return list(rows.values()), extras

    def _baseline(self, f: Finding, key) -> dict[tuple, tuple[str, str, int]]:
        """Subject-level findings: one value per patient; with several records the --BLFL=Y one."""
        flagged = {(pid,) for i, pid, r in self.rows(f.domain, {**f.where, f"{f.domain}TESTCD": (f.testcd,)})
                   if r.get(f"{f.domain}BLFL", "").upper() == "Y"}

        def k(pid, dom, i, r):
            if (pid,) in flagged and r.get(f"{dom}BLFL", "").upper() != "Y":
                self.skip(dom, i, f"{dom}TESTCD={f.testcd}: not the baseline record ({dom}BLFL)")
                return None
            return (pid,)

        return self.findings(f, "subjects", k)

    def _milestone(self, rows: dict[str, dict[str, str]], col: str, spec: dict[str, Any]) -> None:
        dom, var, pick = spec["domain"].upper(), spec["date"], spec.get("pick", "first")
        found: dict[str, str] = {}
        for i, pid, r in self.rows(dom, where_of(spec)):
            d = self.date(dom, i, r, var)
            if d is None:
                continue
            self.use(dom, i)
            if pid not in found or (d < found[pid] if pick == "first" else d > found[pid]):
                found[pid] = d
        for pid, d in found.items():
            rows[pid][col] = d
        self.sources[f"subjects.{col}"] = f"{dom} {var} ({pick}) where {where_text(spec)}"

    def _dose(self, rows: dict[str, dict[str, str]], spec: dict[str, Any] | None) -> None:
        if not spec:
            return
        dom = spec["domain"].upper()
        units = spec.get("units", {})
        total: dict[str, list[float]] = {}
        for i, pid, r in self.rows(dom, where_of(spec)):
            text = r.get(f"{dom}DOSE", "")
            if not text:
                continue
            unit = r.get(f"{dom}DOSU", "")
            factor = lookup({k: str(v) for k, v in units.items()}, unit)
            if factor is None:
                self.problem(dom, i, f"{dom}DOSU", f"dose unit {unit!r} is not one of {', '.join(units)}; dose not used")
                continue
            try:
                total.setdefault(pid, []).append(float(text) * float(factor))
            except ValueError:
                self.problem(dom, i, f"{dom}DOSE", f"{text!r} is not a number")
        col = SUBJ.column("dose_car_cells")
        for pid, doses in total.items():
            v, why = to_model(number_text(math.fsum(doses)), col)
            rows[pid]["dose_car_cells"] = v or ""
            if why:
                self.log.problem(self.source(dom).file, None, f"{dom}DOSE", f"patient {pid}: dose_car_cells {why}")
        self.sources["subjects.dose_car_cells"] = f"{dom} {dom}DOSE x unit factor, summed, where {where_text(spec)}"

    def _discontinuation(self, rows: dict[str, dict[str, str]], spec: dict[str, Any] | None) -> None:
        if not spec:
            return
        dom = spec["domain"].upper()
        stages, svar, rvar = spec["stages"], spec["stage_var"], spec["reason_var"]
        for i, pid, r in self.rows(dom, where_of(spec)):
            stage = lookup(stages, r.get(svar, ""))
            if stage is None:
                self.skip(dom, i, f"{svar} {r.get(svar, '')!r} is not a pre-infusion stage")
                continue
            if rows[pid].get("discontinuation_stage"):
                self.problem(dom, i, svar, f"a second pre-infusion discontinuation for {pid}")
                continue
            rows[pid]["discontinuation_stage"] = stage
            rows[pid]["discontinuation_reason"] = r.get(rvar, "")
            self.use(dom, i)
        self.sources["subjects.discontinuation_stage"] = f"{dom} {svar} where {where_text(spec)}"
        self.sources["subjects.discontinuation_reason"] = f"{dom} {rvar}"

    def _extras(self, rows: dict[str, dict[str, str]], supp: str | None) -> list[str]:
        """SUPPDM qualifiers not mapped elsewhere: extra subjects columns named after QLABEL (snake case)."""
        if not supp:
            return []
        names: list[str] = []
        for i, pid, r in self.rows(supp, {}):
            name = norm(r.get("QLABEL", "") or r.get("QNAM", ""))
            if not name or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                self.skip(supp, i, f"QLABEL {r.get('QLABEL', '')!r} gives no column name")
                continue
            if name in SUBJ.names:
                self.skip(supp, i, f"QNAM {r.get('QNAM', '')} is named like the model column {name}: map it in [subjects.findings]")
                continue
            if name not in names:
                names.append(name)
                self.sources[f"subjects.{name}"] = f"{supp} QNAM={r.get('QNAM', '')}"
            rows[pid][name] = r.get("QVAL", "")
            self.use(supp, i)
        return names

    def assessments(self) -> list[dict[str, str]]:
        a = self.m["assessments"]
        assessors = a.get("assessors", {})
        out: dict[tuple, dict[str, str]] = {}
        for col, spec in a.get("findings", {}).items():
            f = finding(col, spec)

            def key(pid, dom, i, r):
                d = self.date(dom, i, r, f"{dom}DTC")
                if d is None:
                    return None
                ev = r.get(f"{dom}EVAL", "")
                who = lookup(assessors, ev) if ev else ""
                if who is None:
                    self.problem(dom, i, f"{dom}EVAL", f"assessor {ev!r} is not one of {', '.join(assessors)}")
                    return None
                return (pid, d, who)

            for k, (v, _, _) in self.findings(f, "assessments", key).items():
                out.setdefault(k, {"patient_id": k[0], "date": k[1], "assessor": k[2]})[col] = v
        self.sources["assessments.assessor"] = "--EVAL of the findings"
        return list(out.values())

    def events(self, subjects: list[dict[str, str]]) -> list[dict[str, str]]:
        e = self.m["events"]
        out: list[dict[str, str]] = []
        for ev in ("relapse", "hsct", "new_therapy", "last_contact"):
            spec = e.get(ev)
            if not spec:
                continue
            dom = spec["domain"].upper()
            supp = self.supp(dom) if spec.get("detail_supp") else {}
            for i, pid, r in self.rows(dom, where_of(spec)):
                d = self.date(dom, i, r, spec["date"])
                if d is None:
                    continue
                detail = ""
                if spec.get("detail_var") or spec.get("detail_supp"):
                    if spec.get("detail_var"):
                        var, raw = spec["detail_var"], r.get(spec["detail_var"], "")
                    else:
                        var = spec["detail_supp"]
                        q = supp.get((r.get("USUBJID", ""), f"{dom}SEQ", r.get(f"{dom}SEQ", "")), {}).get(var.upper())
                        raw = q[1] if q else ""
                        if q:
                            self.use(f"SUPP{dom}", q[0])
                    detail = lookup(spec.get("details", {}), raw) if raw or "" in spec.get("details", {}) else ""
                    if detail is None:
                        self.problem(dom, i, var, f"{ev} detail {raw!r} is not one of the mapped values ({', '.join(k for k in spec.get('details', {}) if k)})")
                        detail = ""
                out.append({"patient_id": pid, "date": d, "event": ev, "detail": detail})
                self.use(dom, i)
            self.sources[f"events.{ev}"] = f"{dom} {spec['date']} where {where_text(spec)}"
        cause = e.get("death_cause")
        causes: dict[str, tuple[int, str]] = {}
        if cause:
            dom = cause["domain"].upper()
            for i, pid, r in self.rows(dom, where_of(cause)):
                if pid in causes:
                    self.skip(dom, i, "a second cause of death for the patient (the first is used)")
                    continue
                causes[pid] = (i, r.get(cause["var"], ""))
        for s in subjects:
            d = s.pop("_death", "")
            hit = causes.pop(s["patient_id"], None)
            if d:
                out.append({"patient_id": s["patient_id"], "date": d, "event": "death", "detail": hit[1] if hit else ""})
                if hit:
                    self.use(cause["domain"], hit[0])
            elif hit:
                self.skip(cause["domain"], hit[0], f"no death date ({self.m['subjects']['death_date']}) for the patient in DM")
        self.sources["events.death"] = f"DM {self.m['subjects']['death_date']}; cause: {cause['domain'] if cause else '-'}"
        return out

    def adverse_events(self) -> list[dict[str, str]]:
        a = self.m["adverse_events"]
        table = TABLES_BY_NAME["adverse_events"]
        astct = {t.upper() for t in a.get("astct_terms", [])}
        g = a.get("astct_grade", {})
        supp = self.supp("AE") if g.get("supp") else {}
        fa: dict[tuple[str, str], tuple[int, str]] = {}
        if g.get("domain"):
            gd = g["domain"].upper()
            for i, pid, r in self.rows(gd, {f"{gd}TESTCD": (g["testcd"],)}):
                fa[(r.get("USUBJID", ""), r.get(f"{gd}LNKID", ""))] = (i, r.get(f"{gd}STRESC", "") or r.get(f"{gd}ORRES", ""))
        out = []
        for i, pid, r in self.rows("AE", {}):
            row = {"patient_id": pid}
            term = r.get(a["term"], "") or r.get("AETERM", "")
            if not term:
                self.problem("AE", i, a["term"], "no term (AEDECOD and AETERM are empty)")
                continue
            row["term"] = term
            row["soc"] = r.get(a["soc"], "")
            ok = True
            for col in ("onset_date", "end_date"):
                text = r.get(a[col], "")
                if not text:
                    if col == "onset_date":
                        self.problem("AE", i, a[col], "no onset date")
                        ok = False
                    continue
                d, why = iso_date(text)
                if why:
                    self.problem("AE", i, a[col], why)
                    ok = ok and col != "onset_date"
                row[col] = d or ""
            grade_src, grade_text = a["grade"], r.get(a["grade"], "")
            if term.upper() in astct:
                q = None
                if g.get("supp"):
                    hit = supp.get((r.get("USUBJID", ""), "AESEQ", r.get("AESEQ", "")), {}).get(g["supp"].upper())
                    if hit:
                        q, grade_src = hit, f"SUPPAE.{g['supp']}"
                        self.use("SUPPAE", hit[0])
                elif g.get("domain"):
                    hit = fa.get((r.get("USUBJID", ""), r.get("AELNKID", "")))
                    if hit and r.get("AELNKID", ""):
                        q, grade_src = hit, f"{g['domain']}.{g['testcd']}"
                        self.use(g["domain"], hit[0])
                if q:
                    grade_text = q[1]
                elif grade_text:
                    self.log.notes.append(f"{self.source('AE').file}:{i}: {term}: no ASTCT grade, CTCAE {a['grade']} used")
            v, why = to_model(grade_text, table.column("grade"))
            if why or not v:
                self.problem("AE", i, grade_src, f"grade: {why or 'empty'}")
                continue
            row["grade"] = v
            for col in ("serious", "related"):
                spec = a[col]
                var, values = (spec, None) if isinstance(spec, str) else (spec["var"], spec.get("values"))
                v, why = to_model(r.get(var, ""), table.column(col), values)
                if why:
                    self.log.problem(self.source("AE").file, i, var, f"adverse_events.{col}: {why}")
                row[col] = v or ""
            if not ok:
                continue
            out.append(row)
            self.use("AE", i)
        for col in ("term", "soc", "onset_date", "end_date", "grade", "serious", "related"):
            spec = a[col]
            self.sources[f"adverse_events.{col}"] = "AE " + (spec if isinstance(spec, str) else spec["var"])
        if astct:
            self.sources["adverse_events.grade"] += f"; CRS/ICANS: {'SUPPAE ' + g['supp'] if g.get('supp') else g.get('domain', '')}"
        return out

    def toxicity_daily(self) -> list[dict[str, str]]:
        t = self.m["toxicity_daily"]
        out: dict[tuple, dict[str, str]] = {}
        for col, spec in t.get("findings", {}).items():
            f = finding(col, spec)

            def key(pid, dom, i, r):
                d = self.date(dom, i, r, f"{dom}DTC")
                return None if d is None else (pid, d)

            for k, (v, _, _) in self.findings(f, "toxicity_daily", key).items():
                out.setdefault(k, {"patient_id": k[0], "date": k[1]})[col] = v
        for col, spec in t.get("medications", {}).items():
            dom = spec["domain"].upper()
            given: dict[tuple[str, str], str] = {}
            days: dict[str, list[str]] = defaultdict(list)
            for p, d in out:
                days[p].append(d)
            for i, pid, r in self.rows(dom, where_of(spec)):
                start = self.date(dom, i, r, f"{dom}STDTC")
                if start is None:
                    continue
                end = r.get(f"{dom}ENDTC", "")
                end = (iso_date(end)[0] if end else start) or start
                occur = r.get(f"{dom}OCCUR", "").upper()
                if occur not in ("", "Y", "N"):
                    self.problem(dom, i, f"{dom}OCCUR", f"{occur!r} is not Y or N")
                    continue
                hit = [d for d in days.get(pid, ()) if start <= d <= end]
                for d in hit:
                    given[(pid, d)] = "no" if occur == "N" else "yes"
                if hit:
                    self.use(dom, i)
                else:
                    self.skip(dom, i, "no daily CRS/ICANS record on those days")
            absent = "" if spec.get("absent", "no") == "empty" else "no"
            for k, row in out.items():
                row[col] = given.get(k, absent)
            self.sources[f"toxicity_daily.{col}"] = (f"{dom} where {where_text(spec)} ({dom}OCCUR=N: no; "
                                                     f"no record on a day: {absent or 'empty'})")
        return list(out.values())

    def _day(self, dom: str, i: int, r: dict[str, str], infusion: dict[str, str], pid: str) -> str | None:
        eltm = r.get(f"{dom}ELTM", "")
        if eltm:
            days = eltm_days(eltm)
            if days is None:
                self.problem(dom, i, f"{dom}ELTM", f"{eltm!r} is not an ISO 8601 duration (e.g. P28D, PT6H)")
                return None
            return number_text(days)
        d = self.date(dom, i, r, f"{dom}DTC")
        if d is None:
            return None
        if not infusion.get(pid):
            self.skip(dom, i, "no infusion date to count the day from")
            return None
        import datetime as dt

        return str((dt.date.fromisoformat(d) - dt.date.fromisoformat(infusion[pid])).days)

    def pk(self, infusion: dict[str, str]) -> list[dict[str, str]]:
        p = self.m["pk"]
        dom = p["domain"].upper()
        table = TABLES_BY_NAME["pk"]
        out = []
        mv = p["matrix"]
        for i, pid, r in self.rows(dom, where_of(p)):
            matrix = lookup(mv["values"], r.get(mv["var"], ""))
            if matrix is None:
                self.problem(dom, i, mv["var"], f"matrix {r.get(mv['var'], '')!r} is not one of {', '.join(mv['values'])}")
                continue
            day = self._day(dom, i, r, infusion, pid)
            if day is None:
                continue
            row = {"patient_id": pid, "day": day, "matrix": matrix, "unit": r.get(f"{dom}STRESU", "")}
            bad = False
            for col, var in (("value", f"{dom}STRESN"), ("lloq", f"{dom}LLOQ")):
                v, why = to_model(r.get(var, ""), table.column(col))
                if why:
                    self.problem(dom, i, var, f"pk.{col}: {why}")
                    bad = True
                row[col] = v or ""
            if bad:
                continue
            out.append(row)
            self.use(dom, i)
        if self.source(dom):
            for col, var in (("day", f"{dom}ELTM (or {dom}DTC - infusion)"), ("matrix", mv["var"]), ("value", f"{dom}STRESN"),
                             ("unit", f"{dom}STRESU"), ("lloq", f"{dom}LLOQ")):
                self.sources[f"pk.{col}"] = f"{dom} {var}"
            self.sources["pk.patient_id"] = f"{dom} USUBJID"
        return out

    def labs(self, infusion: dict[str, str]) -> list[dict[str, str]]:
        lb = self.m["labs"]
        dom = lb["domain"].upper()
        table = TABLES_BY_NAME["labs"]
        out = []
        for i, pid, r in self.rows(dom, where_of(lb)):
            code = r.get(f"{dom}TESTCD", "")
            if not code:
                self.skip(dom, i, f"{dom}TESTCD is empty")
                continue
            test = lookup(lb.get("tests", {}), code) or code.lower()
            text = r.get(f"{dom}STRESN", "")
            if not text:
                self.skip(dom, i, f"no numeric result ({dom}STRESN)")
                continue
            v, why = to_model(text, table.column("value"))
            if why:
                self.problem(dom, i, f"{dom}STRESN", f"labs.value: {why}")
                continue
            day = self._day(dom, i, r, infusion, pid)
            if day is None:
                continue
            out.append({"patient_id": pid, "day": day, "test": test, "value": v, "unit": r.get(f"{dom}STRESU", "")})
            self.use(dom, i)
        if self.source(dom):
            for col, var in (("day", f"{dom}ELTM (or {dom}DTC - infusion)"), ("test", f"{dom}TESTCD"), ("value", f"{dom}STRESN"), ("unit", f"{dom}STRESU")):
                self.sources[f"labs.{col}"] = f"{dom} {var}"
            self.sources["labs.patient_id"] = f"{dom} USUBJID"
        return out


    def infections(self) -> list[dict[str, str]]:
        m = self.m.get("infections")
        if not m:
            return []
        dom = m["domain"].upper()
        table = TABLES_BY_NAME["infections"]
        supp = self.supp(dom)
        out = []
        for i, pid, r in self.rows(dom, where_of(m)):
            quals = supp.get((r.get("USUBJID", ""), f"{dom}SEQ", r.get(f"{dom}SEQ", "")), {})
            for q, _ in quals.values():
                self.use(f"SUPP{dom}", q)
            row = {"patient_id": pid, "pathogen": quals.get(m["pathogen_supp"].upper(), (0, ""))[1]}
            pc = m["pathogen_class"]
            cells = {"onset_date": (f"{dom}STDTC", r.get(f"{dom}STDTC", ""), None),
                     "end_date": (f"{dom}ENDTC", r.get(f"{dom}ENDTC", ""), None),
                     "pathogen_class": (f"SUPP{dom}.{pc['supp']}", quals.get(pc["supp"].upper(), (0, ""))[1], pc.get("values")),
                     "site": (m["site"]["var"], r.get(m["site"]["var"], ""), m["site"].get("values")),
                     "grade": (m["grade"], r.get(m["grade"], ""), None),
                     "serious": (m["serious"], r.get(m["serious"], ""), None),
                     "related": (m["related"]["var"], r.get(m["related"]["var"], ""), m["related"].get("values"))}
            ok = True
            for col, (var, text, values) in cells.items():
                v, why = to_model(text, table.column(col), values)
                if why or (not v and not table.column(col).nullable):
                    self.problem(dom, i, var, f"infections.{col}: {why or 'empty'}")
                    ok = ok and table.column(col).nullable
                row[col] = v or ""
            if ok:
                out.append(row)
                self.use(dom, i)
        if self.source(dom):
            self.sources.update({f"infections.{c}": f"{dom} {v}" for c, v in (
                ("patient_id", "USUBJID"), ("onset_date", f"{dom}STDTC"), ("end_date", f"{dom}ENDTC"),
                ("pathogen", f"SUPP{dom} {m['pathogen_supp']}"), ("pathogen_class", f"SUPP{dom} {m['pathogen_class']['supp']}"),
                ("site", m["site"]["var"]), ("grade", m["grade"]), ("serious", m["serious"]), ("related", m["related"]["var"]))})
        return out

    def concomitant_meds(self) -> list[dict[str, str]]:
        m = self.m.get("concomitant_meds")
        if not m:
            return []
        dom = m["domain"].upper()
        table = TABLES_BY_NAME["concomitant_meds"]
        out = []
        for i, pid, r in self.rows(dom, where_of(m)):
            med_text = r.get(f"{dom}DECOD", "") or r.get(f"{dom}TRT", "")
            med = lookup(m.get("medications", {}), med_text) or med_text
            row = {"patient_id": pid, "name": r.get(f"{dom}TRT", ""), "dose_unit": r.get(f"{dom}DOSU", "")}
            ind = r.get(f"{dom}INDC", "")
            cells = {"medication": (f"{dom}DECOD", med), "start_date": (f"{dom}STDTC", r.get(f"{dom}STDTC", "")),
                     "end_date": (f"{dom}ENDTC", r.get(f"{dom}ENDTC", "")), "dose": (f"{dom}DOSE", r.get(f"{dom}DOSE", "")),
                     "indication": (f"{dom}INDC", lookup(m.get("indications", {}), ind) or ind)}
            ok = True
            for col, (var, text) in cells.items():
                v, why = to_model(text, table.column(col))
                if why or (not v and not table.column(col).nullable):
                    self.problem(dom, i, var, f"concomitant_meds.{col}: {why or 'empty'}")
                    ok = ok and table.column(col).nullable
                row[col] = v or ""
            if ok:
                out.append(row)
                self.use(dom, i)
        if self.source(dom):
            self.sources.update({f"concomitant_meds.{c}": f"{dom} {v}" for c, v in (
                ("patient_id", "USUBJID"), ("medication", f"{dom}DECOD"), ("name", f"{dom}TRT"), ("start_date", f"{dom}STDTC"),
                ("end_date", f"{dom}ENDTC"), ("dose", f"{dom}DOSE"), ("dose_unit", f"{dom}DOSU"), ("indication", f"{dom}INDC"))})
        return out


def _tables(imp: Importer) -> tuple[dict[str, list[dict[str, str]]], list[str]]:
    subjects, extras = imp.subjects()
    tables = {"subjects": subjects}
    tables["assessments"] = imp.assessments()
    tables["events"] = imp.events(subjects)
    tables["adverse_events"] = imp.adverse_events()
    tables["toxicity_daily"] = imp.toxicity_daily()
    infusion = {s["patient_id"]: s.get("infusion_date", "") for s in subjects}
    tables["pk"] = imp.pk(infusion)
    tables["labs"] = imp.labs(infusion)
    tables["infections"] = imp.infections()
    tables["concomitant_meds"] = imp.concomitant_meds()
    for name in imp.files:  # every dataset in the folder is accounted for in the report, used or not
        imp.source(name)
    for t in ("assessments", "events", "adverse_events", "toxicity_daily", "pk", "labs"):
        imp.sources.setdefault(f"{t}.patient_id", "USUBJID via DM")
    for c in ("date", "event", "detail"):
        imp.sources.setdefault(f"events.{c}", "per event type (see above)")
    imp.sources.setdefault("assessments.date", "--DTC of the findings")
    imp.sources.setdefault("toxicity_daily.date", "--DTC of the findings")
    return tables, extras


def import_sdtm(folder: Path | str, out: Path | str, mapping: Path | str | None = None) -> Imported:
    """Import the SDTM datasets in ``folder`` into a new study folder ``out`` (see the module docstring).

    A ``sap.toml`` next to the datasets is copied into the study. Raises
    ``UsageError`` when the folder, a dataset or the mapping cannot be read.
    """
    folder, out = Path(folder), Path(out)
    imp = Importer(folder, load_mapping(Path(mapping) if mapping else None))
    try:
        tables, extras = _tables(imp)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        if mapping is None:  # the default mapping is tested: this is a bug, not the user's file
            raise
        raise UsageError(f"{Path(mapping).name}: an entry does not have the shape of the default mapping "
                         f"({type(e).__name__}: {e}); see docs/importers.md") from None
    plan = folder / "sap.toml"
    validation = write_study(out, tables, extras, f"SDTM {folder.name}", imp.log, imp.sources, plan if plan.is_file() else None,
                             folder)
    return Imported(out, sort_problems(imp.log.problems) + validation)
