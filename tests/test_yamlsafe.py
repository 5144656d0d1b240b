"""Safe loading: every YAML and file-level trick a request could carry is
refused with `path:line: what — fix`, exit 1, and never a traceback."""
from __future__ import annotations

import os

import pytest

from tools.core import yamlsafe

GOOD = """\
# yaml-language-server: $schema=../../../tools/request/schemas/request.v1.schema.json
apiVersion: accessctl/v1
kind: AccessRequest
principal: user:bob@acme.example
requester: bob-acme
justification: Investigate the failing deploys of the billing service this week.
expires: "2026-12-20"
grants:
  - kind: aws-iam-group
    account: acme-dev
    group: readonly
"""
PATH = "requests/aws/acme-dev/bob-readonly.yaml"


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


def rejected(repo, capsys, path: str, content: str | bytes | None, expect: str,
             line: int | None = None) -> str:
    """Write the file (unless None), run validate, return the matching error line."""
    if content is not None:
        repo.write(path, content)
    result = repo.run("validate", capsys=capsys)
    assert result.code == 1, result.out + result.err
    assert "Traceback" not in result.out + result.err
    where = f"{path}:{line}: " if line else f"{path}"
    hits = [l for l in result.out.splitlines() if where in l and expect in l]
    assert hits, f"no error at {where!r} saying {expect!r} in:\n{result.out}"
    return hits[0]


# --- the loader itself ---------------------------------------------------

def test_good_file_keeps_values_and_lines():
    doc = yamlsafe.loads(GOOD)
    assert doc.data["grants"][0]["group"] == "readonly"
    assert doc.line_of(("grants", 0, "group")) == line_of(GOOD, "group: readonly")
    assert doc.line_of(("expires",)) == line_of(GOOD, "expires:")


def test_yaml_1_1_values_stay_text():
    doc = yamlsafe.loads("a: 011111111111\nb: NO\nc: yes\nd: off\ne: 0o17\nf: 1_000\ng: 12\nh: false\n")
    assert doc.data == {"a": "011111111111", "b": "NO", "c": "yes", "d": "off",
                        "e": "0o17", "f": "1_000", "g": 12, "h": False}


@pytest.mark.parametrize("text, expect, line", [
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first on line 1)", 3),
    ("a: &x 1\nb: 2\n", "anchors", 1),
    ("a: 1\nb: *x\n", "aliases (*name) are not allowed", 2),
    ("a: !!python/object:os.system 1\n", "tags", 1),
    ("a: !foo bar\n", "tags (!foo)", 1),
    ("a: 1\n---\nb: 2\n", "more than one YAML document", 2),
    ("a: [1, 2\n", "invalid YAML", None),
])
def test_loader_refuses(text, expect, line):
    with pytest.raises(yamlsafe.YamlError) as err:
        yamlsafe.loads(text)
    assert expect in err.value.message
    if line:
        assert err.value.line == line


def test_dumps_round_trips():
    data = {"a": "011111111111", "b": "NO", "c": ["x", 1, True], "d": "2026-12-20"}
    assert yamlsafe.loads(yamlsafe.dumps(data)).data == data


# --- through the CLI -------------------------------------------------------

def test_duplicate_keys(repo, capsys):
    text = GOOD + "requester: alice-acme\n"
    rejected(repo, capsys, PATH, text, "duplicate key 'requester'", len(text.splitlines()))


def test_anchor(repo, capsys):
    text = GOOD.replace("account: acme-dev", "account: &acct acme-dev")
    rejected(repo, capsys, PATH, text, "anchors (&name) are not allowed", line_of(text, "&acct"))


def test_alias(repo, capsys):
    text = GOOD.replace("group: readonly", "group: readonly\n  - kind: aws-iam-group\n    account: *acct\n    group: developers")
    text = text.replace("account: acme-dev", "account: &acct acme-dev", 1)
    # the anchor is refused first; remove it and the alias is what is left
    rejected(repo, capsys, PATH, text, "anchors", line_of(text, "&acct"))
    text2 = text.replace("&acct ", "")
    rejected(repo, capsys, PATH, text2, "aliases (*name) are not allowed", line_of(text2, "*acct"))


def test_alias_to_existing_anchor_is_refused_at_the_alias():
    with pytest.raises(yamlsafe.YamlError) as err:
        yamlsafe.loads("a: [&x 1]\nb: *x\n")
    assert "anchors" in err.value.message and err.value.line == 1
    with pytest.raises(yamlsafe.YamlError) as err:
        yamlsafe.loads("a:\n  - 1\nb: *x\n")
    assert err.value.line == 3


@pytest.mark.parametrize("tag", ["!!python/object:os.system", "!foo", "!!str"])
def test_custom_tags(repo, capsys, tag):
    text = GOOD.replace("group: readonly", f"group: {tag} readonly")
    line = rejected(repo, capsys, PATH, text, "YAML tags", line_of(text, tag))
    assert "remove the tag" in line


def test_python_object_tag_runs_nothing(repo, capsys, tmp_path):
    marker = tmp_path / "pwned"
    text = GOOD + f"x: !!python/object/apply:os.system ['touch {marker}']\n"
    rejected(repo, capsys, PATH, text, "YAML tags", line_of(text, "x: !!"))
    assert not marker.exists()


def test_non_utf8(repo, capsys):
    raw = GOOD.encode().replace(b"Investigate", b"Investig\xe9 \xff")
    rejected(repo, capsys, PATH, raw, "not valid UTF-8 — save it as UTF-8", line_of(GOOD, "Investigate"))


def test_oversize(repo, capsys):
    text = GOOD + "".join(f"# padding line {i:06d} " + "x" * 60 + "\n" for i in range(1200))
    assert len(text.encode()) > 64 * 1024
    rejected(repo, capsys, PATH, text, "over the 65536-byte limit — split it")


def test_symlink(repo, capsys):
    link = repo.root / "requests/aws/acme-dev/link.yaml"
    os.symlink(repo.root / "requests/aws/acme-dev/bob-developer.yaml", link)
    rejected(repo, capsys, "requests/aws/acme-dev/link.yaml", None, "symbolic links are not accepted")


def test_a_linked_folder_is_refused_not_followed(repo, capsys, tmp_path):
    """A folder link under requests/ could pull in files no PR shows: the
    whole-tree listing names the link itself, which is refused."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text(GOOD)
    os.symlink(outside, repo.root / "requests/aws/acme-dev/linked.yaml")
    result = repo.run("validate", capsys=capsys)
    assert result.code == 1
    assert "requests/aws/acme-dev/linked.yaml: symbolic links are not accepted" in result.out
    assert "linked.yaml/x.yaml" not in result.out


def test_outside_requests(repo, capsys):
    repo.write("elsewhere/aws/acme-dev/x.yaml", GOOD)
    result = repo.run("validate", "elsewhere/aws/acme-dev/x.yaml", capsys=capsys)
    assert result.code == 1
    assert "elsewhere/aws/acme-dev/x.yaml: request files must live under requests/" in result.out


@pytest.mark.parametrize("name", ["bob.json", "bob.yaml.txt", "bob"])
def test_wrong_suffix(repo, capsys, name):
    rejected(repo, capsys, f"requests/aws/acme-dev/{name}", GOOD, "must end in .yaml or .yml")


def test_yml_suffix_is_accepted(repo, capsys):
    repo.write("requests/aws/acme-dev/bob-readonly.yml", GOOD)
    assert repo.run("validate", capsys=capsys).code == 0


@pytest.mark.parametrize("path", ["requests/bob.yaml", "requests/aws/bob.yaml",
                                  "requests/aws/acme-dev/team/bob.yaml"])
def test_wrong_directory_depth(repo, capsys, path):
    rejected(repo, capsys, path, GOOD, "must be at requests/<aws|gcp>/<account-or-project>/<name>.yaml")


def test_unknown_provider_folder(repo, capsys):
    rejected(repo, capsys, "requests/azure/acme-dev/bob.yaml", GOOD,
             "unknown provider folder 'azure' — use requests/aws/… or requests/gcp/…")


def test_unquoted_leading_zero_id_stays_text(repo, capsys):
    """YAML 1.1 reads 011111111111 as the octal number 1227133513."""
    text = GOOD.replace("account: acme-dev", "account: 011111111111")
    line = rejected(repo, capsys, PATH, text, "'011111111111'", line_of(text, "account: 0"))
    assert "1227133513" not in line and "11111111111'" in line


def test_unquoted_no_is_not_false(repo, capsys):
    text = GOOD + "break_glass: NO\n"
    line = rejected(repo, capsys, PATH, text, "break_glass", line_of(text, "break_glass"))
    assert "'NO'" in line and "true or false" in line


def test_number_where_text_is_expected(repo, capsys):
    text = GOOD.replace("requester: bob-acme", "requester: 12345")
    line = rejected(repo, capsys, PATH, text, "requester must be text, got 12345", line_of(text, "requester"))
    assert "quote it" in line


def test_not_a_mapping(repo, capsys):
    rejected(repo, capsys, PATH, "- just\n- a list\n", "must hold one mapping", 1)


def test_empty_file(repo, capsys):
    rejected(repo, capsys, PATH, "", "must hold one mapping")


def test_broken_yaml_points_at_the_line(repo, capsys):
    text = GOOD.replace('expires: "2026-12-20"', 'expires: "2026-12-20')
    rejected(repo, capsys, PATH, text, "invalid YAML")


def test_no_traceback_in_a_real_process(repo):
    repo.write(PATH, GOOD + "requester: alice-acme\n")
    repo.write("requests/aws/acme-dev/tagged.yaml", GOOD.replace("readonly", "!!python/object:os.system x"))
    repo.write("requests/aws/acme-dev/latin1.yaml", GOOD.encode().replace(b"Investigate", b"\xe9"))
    result = repo.run_process("validate")
    assert result.code == 1
    assert "Traceback" not in result.err + result.out
    assert f"{PATH}:{len(GOOD.splitlines()) + 1}: duplicate key" in result.out
    assert "requests/aws/acme-dev/tagged.yaml:" in result.out
    assert "requests/aws/acme-dev/latin1.yaml:" in result.out
