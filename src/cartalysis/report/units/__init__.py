"""Analysis units: one small module per analysis of the report (docs/design: report-units).

The protocol, which every analysis follows:

* A unit is ``Unit(key, title, run, needs=(...), when=...)`` (``base.py``), declared in a module-level ``UNITS``
  tuple of its module; ``report/sections.py`` lists the units of each section in order.
* ``when(ctx) -> bool`` is the plan's choice: False means the plan does not ask for this analysis and nothing is
  shown (e.g. the ORR table when ``efficacy.orr = "none"``).
* ``needs`` are what the analysis requires, stated as data and checked before anything is computed: each need is a
  function ``ctx -> str | None`` returning the reason in plain words when it is not met ("no response assessments
  in assessments.csv"). Ready-made needs in ``base.py``: ``rows_in(table)``, ``values_in(table, column)``,
  ``infused()``, ``rows_of(frame, reason)``; write your own as a small function. The first failed need gives a
  ``NotAnalysed`` block ("no response assessments in assessments.csv: response rates not analysed.") and a record
  ``<key>.not_analysed`` with no value — never a number.
* ``run(ctx) -> list`` computes the unit's records through ``cartalysis.stats`` / ``cartalysis.derive`` (each number
  registered with ``report.records`` so that it lands in ``results.json``) and lays them out as ``Table``,
  ``Figure`` (``ctx.figure``) or ``Note`` blocks whose cells come from records (``model.c_*``). No statistic is
  computed in the layout; a statistic that refuses the input (``stats.StatsInputError``) becomes a note through
  ``base.safe``, a ``Warning`` block when it concerns one table.
* ``Note`` blocks (about a section as a whole) open their section; everything else keeps the unit order.

Ids: ``<section>.<analysis>.<…>`` as documented in docs/results.md; free text (AE terms, causes, reasons) goes through
``text.ids`` so that ids stay unique for any spelling or script.

Adding an analysis = adding a module with ``UNITS`` and listing it in ``report/sections.py``; test it on a
hand-built study for its numbers and on one missing each need for its message.
"""
