"""The CLI in-process (with the test preset) and as a real subprocess (with chest_xray)."""

import json

import pytest

from synthmed.cli import main


def run_cli(capsys, *args) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture
def toy_spec(tmp_path, toy_spec_text):
    path = tmp_path / "toy.yaml"
    path.write_text(toy_spec_text)
    return path


def test_help_documents_every_command(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for command in ("generate", "presets", "inspect", "schema", "validate", "edit", "evaluate"):
        assert command in out
    code, out, _ = run_cli(capsys, "generate", "--help")
    for option in ("--output", "--count", "--seed", "--workers", "--quiet", "--overwrite"):
        assert option in out


def test_generate_then_inspect(capsys, toy_spec, tmp_path):
    out_dir = tmp_path / "out"
    code, out, _ = run_cli(capsys, "generate", str(toy_spec), "-o", str(out_dir), "-n", "2",
                           "--workers", "1", "--quiet")
    assert code == 0 and "dataset written to" in out
    assert len(list((out_dir / "labels").glob("*.json"))) == 2
    code, out, _ = run_cli(capsys, "inspect", str(out_dir))
    assert code == 0
    assert (out_dir / "contact_sheet.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_presets_lists_parameters_with_bounds(capsys):
    code, out, _ = run_cli(capsys, "presets", "toy")
    assert code == 0
    assert "radius_px" in out and "between 1 and 6" in out and "disc radius" in out


def test_schema_is_json(capsys):
    code, out, _ = run_cli(capsys, "schema", "--preset", "toy")
    assert code == 0
    assert "level" in json.loads(out)["properties"]["params"]["properties"]


def test_validate(capsys, toy_spec):
    code, out, _ = run_cli(capsys, "validate", str(toy_spec))
    assert code == 0 and "valid" in out and "level" in out


@pytest.mark.parametrize("args, message", [
    (["generate", "missing.yaml", "-o", "x"], "not found"),
    (["generate", "{spec}", "-o", "{file}"], "is a file"),
    (["generate", "{spec}", "-o", "{dir}", "--workers", "0"], "at least 1"),
    (["generate", "{bad}", "-o", "{dir}"], "between 0 and 1"),
    (["presets", "nope"], "unknown preset 'nope'"),
    (["inspect", "{file}"], "not a synthmed dataset"),
    (["generate", "{spec}"], "Missing option"),
    (["frobnicate"], "No such command"),
])
def test_user_errors_exit_2_without_traceback(capsys, tmp_path, toy_spec, args, message):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: toy\nparams:\n  level: 7\n")
    args = [a.format(spec=toy_spec, file=a_file, dir=tmp_path / "o", bad=bad) for a in args]
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in out + err
    assert "Traceback" not in out + err
