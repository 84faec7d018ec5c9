"""Study twins: seeded synthetic cohorts that reproduce published CAR-T studies.

``generate.write_twin(name, out_dir, seed=None)`` writes a study folder from
``targets/<name>.toml``; see ``docs/twins.md``.
"""
