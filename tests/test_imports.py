"""Each command imports only what it needs, checked on a fresh interpreter's ``sys.modules`` (issue 12).

- ``cartalysis --help``, every command's ``--help`` and every usage error import neither pandas, scipy nor
  matplotlib (they cost about a second before the first line of output);
- every statistics command imports neither matplotlib nor the Word/RTF writers, and the survival commands not
  ``scipy.stats`` either (their distributions come from ``scipy.special``).

The commands are enumerated from the Typer app, so a new command is checked too: a statistics command (any command
not defined in ``cartalysis.cli`` itself, the study commands that build reports) needs an example run in
``EXAMPLES``, else ``test_every_statistics_command_has_an_example`` fails. Two subprocesses in all: one runs every
light invocation, one every statistics example, each recording what was newly imported after each invocation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer.main

from cartalysis import cli

HEAVY = ("pandas", "scipy", "matplotlib")
NOT_FOR_STATISTICS = ("matplotlib", "docx", "rtflite")
# Commands that need scipy.stats (exact binomial tests); every other statistics command must do without it.
NEED_SCIPY_STATS = {"binom", "design"}

CSV = """\
time,event,status,group,x,switch
5,1,1,a,0.5,
8,0,0,b,1.2,3
12,1,2,a,-0.3,
20,1,1,b,0.8,6
25,0,0,a,1.9,
31,1,1,b,-1.1,
40,1,2,a,0.1,10
44,0,0,b,0.4,
52,1,1,a,2.2,
60,0,0,b,-0.7,
"""

# command -> arguments after the command name ({csv} is the file above)
EXAMPLES: dict[str, list[str]] = {
    "km": ["{csv}", "--time", "time", "--event", "event", "--group", "group"],
    "logrank": ["{csv}", "--time", "time", "--event", "event", "--group", "group"],
    "cox": ["{csv}", "--time", "time", "--event", "event", "--covariates", "x,group", "--categorical", "group"],
    "cif": ["{csv}", "--time", "time", "--status", "status", "--group", "group"],
    "rmst": ["{csv}", "--time", "time", "--event", "event", "--tau", "30", "--group", "group"],
    "followup": ["{csv}", "--time", "time", "--event", "event"],
    "finegray": ["{csv}", "--time", "time", "--status", "status", "--cause", "1", "--covariates", "x"],
    "landmark": ["{csv}", "--time", "time", "--event", "event", "--switch", "switch", "--at", "7"],
    "binom": ["--x", "34", "--n", "48", "--p0", "0.25"],
    "design": ["--p0", "0.25", "--p1", "0.5"],
}


def _commands() -> dict[tuple[str, ...], str]:
    """Every leaf command of the app -> the module that defines it."""
    cli._register_stats()
    found: dict[tuple[str, ...], str] = {}

    def walk(command, path: tuple[str, ...]) -> None:
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, path + (name,))
        else:
            found[path] = command.callback.__module__

    walk(typer.main.get_command(cli.app), ())
    return found


COMMANDS = _commands()
STATISTICS = sorted(p[0] for p, module in COMMANDS.items() if module != "cartalysis.cli" and len(p) == 1)

RUNNER = textwrap.dedent("""\
    import json, sys
    from typer.testing import CliRunner
    start = set(sys.modules)
    from cartalysis import cli
    cli._register_stats()  # as cli.main() does: every command defined
    runner, out = CliRunner(), [{"args": ["(startup)"], "exit": 0, "output": "", "new": sorted(set(sys.modules) - start)}]
    for args in json.loads(sys.argv[1]):
        before = set(sys.modules)
        res = runner.invoke(cli.app, args)
        out.append({"args": args, "exit": res.exit_code, "output": res.output[-500:],
                    "new": sorted(set(sys.modules) - before)})
    print(json.dumps(out))
""")


def _run(invocations: list[list[str]], cwd: Path) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(cli.__file__).parents[1]),
                                                          os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", RUNNER, json.dumps(invocations)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _heavy(modules: list[str], roots: tuple[str, ...]) -> list[str]:
    return sorted({m for m in modules for r in roots if m == r or m.startswith(r + ".")})


@pytest.fixture(scope="module")
def light_runs(tmp_path_factory) -> dict[tuple[str, ...], dict]:
    """--help of the app and of every command, and a usage error (an unknown option) of every command."""
    invocations = [["--help"], []]
    for path in COMMANDS:
        invocations += [[*path, "--help"], [*path, "--no-such-option"]]
    invocations.append(["twin"])  # the twin command's own usage error (no NAME, no --out)
    return {tuple(r["args"]): r for r in _run(invocations, tmp_path_factory.mktemp("light"))}


@pytest.fixture(scope="module")
def statistics_runs(tmp_path_factory) -> dict[str, dict]:
    base = tmp_path_factory.mktemp("stats")
    (base / "data.csv").write_text(CSV, encoding="utf-8")
    # the commands that must not import scipy.stats run first: later ones may import it
    order = sorted(EXAMPLES, key=lambda c: c in NEED_SCIPY_STATS)
    runs = _run([[c, *(a.format(csv=base / "data.csv") for a in EXAMPLES[c])] for c in order], base)
    assert _heavy(runs[0]["new"], NOT_FOR_STATISTICS) == []  # startup
    return {r["args"][0]: r for r in runs[1:]}


def test_app_help_and_no_arguments_import_nothing_heavy(light_runs):
    seen = set()
    for args in (("(startup)",), ("--help",), ()):
        r = light_runs[args]
        assert r["exit"] in (0, 2), r["output"]
        seen.update(r["new"])
    # importing the CLI and defining every command (startup) included
    assert _heavy(sorted(seen), HEAVY) == []


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_command_help_and_usage_errors_import_nothing_heavy(path, light_runs):
    help_run = light_runs[(*path, "--help")]
    assert help_run["exit"] == 0, help_run["output"]
    usage = light_runs[(*path, "--no-such-option")]
    assert usage["exit"] == 2, usage["output"]
    assert _heavy(help_run["new"] + usage["new"], HEAVY) == []


def test_twin_usage_error_imports_nothing_heavy(light_runs):
    r = light_runs[("twin",)]
    assert r["exit"] == 2 and "NAME" in r["output"]
    assert _heavy(r["new"], HEAVY) == []


def test_every_statistics_command_has_an_example():
    assert STATISTICS, "no statistics command found"
    missing = [c for c in STATISTICS if c not in EXAMPLES]
    assert not missing, f"add an example run for {missing} to EXAMPLES in tests/test_imports.py"


@pytest.mark.parametrize("command", STATISTICS)
def test_statistics_commands_import_no_plotting_or_word(command, statistics_runs):
    r = statistics_runs[command]
    assert r["exit"] == 0, r["output"]
    assert _heavy(r["new"], NOT_FOR_STATISTICS) == []
    if command not in NEED_SCIPY_STATS:
        assert _heavy(r["new"], ("scipy.stats",)) == []


def test_the_record_sees_what_a_command_imports(statistics_runs):
    """The checks above can fail: a statistics run is seen importing pandas and the survival code."""
    assert {"pandas", "cartalysis.stats.survival"} <= set(statistics_runs["km"]["new"])
