"""accessctl audit: who-has with git provenance and approvers, --live against
an in-memory cloud, history timelines, and the auditor's report (HTML
checked by structure and, when Chromium is installed, in a real browser)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest
from fakes.memory import MemoryCloud

from tools.core.model import Action, Change, ChangeResult, Grant
from tools.provision import record as records

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
DEV = "requests/gcp/acme-data-dev"


def _git(repo, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo.root), *args], check=True, capture_output=True, text=True).stdout


def _request(principal: str, role: str, expires: str, project: str = "acme-data-dev",
             requester: str = "dave-acme") -> str:
    return (f"apiVersion: accessctl/v1\nkind: AccessRequest\nprincipal: {principal}\nrequester: {requester}\n"
            "justification: Investigate the nightly load failures in the data warehouse.\n"
            f"expires: \"{expires}\"\ngrants:\n  - kind: gcp-project-role\n    project: {project}\n"
            f"    role: {role}\n")


def _merge_pr(repo, number: int, branch: str, path: str, text: str) -> str:
    """A merge-commit PR: the change is on a branch, main gets 'Merge pull request #N'."""
    _git(repo, "checkout", "-q", "-b", branch)
    repo.write(path, text)
    repo.commit(f"Add {path}")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", branch, "-m", f"Merge pull request #{number} from acme/{branch}")
    return _git(repo, "rev-parse", "HEAD").strip()


def _record(repo, pr: int, approvers, grant: Grant) -> None:
    prov = records.Provenance("abc123", pr, approvers, "apply-bot", "run-1")
    records.append(repo.root / records.DEFAULT_PATH,
                   records.lines([ChangeResult(Change(Action.ADD, grant), True, None, 1)], prov, NOW))


@pytest.fixture
def history_repo(repo):
    """frank by squash PR #21 (approvers unknown), grace by merge PR #22 (approved by dave)."""
    repo.write(f"{DEV}/frank-viewer.yaml", _request("user:frank@acme.example", "roles/bigquery.dataViewer", "2027-01-10"))
    repo.commit("Grant frank BigQuery viewer (#21)")
    _merge_pr(repo, 22, "grace-editor", f"{DEV}/grace-objects.yaml",
              _request("user:grace@acme.example", "roles/storage.objectViewer", "2027-02-01"))
    _record(repo, 22, ("dave-acme",), Grant("gcp", "acme-data-dev", "user:grace@acme.example", "gcp-project-role",
                                            "roles/storage.objectViewer", None, f"{DEV}/grace-objects.yaml"))
    return repo


def test_who_has_traces_each_grant_to_its_pr_merge_time_and_approvers(history_repo, capsys):
    res = history_repo.run("audit", "who-has", "acme-data-dev", "--format", "json", capsys=capsys)
    assert res.code == 0, res.err
    rows = {r["principal"]: r for r in json.loads(res.out)["grants"]}
    assert set(rows) == {"user:frank@acme.example", "user:grace@acme.example",
                         "serviceAccount:acme-data-dev/etl-triage-agent"}  # and the GCP agent sample
    frank, grace = rows["user:frank@acme.example"], rows["user:grace@acme.example"]
    assert frank["pr"] == 21 and frank["approvers"] is None and frank["request"] == f"{DEV}/frank-viewer.yaml"
    assert frank["expires"] == "2027-01-10T00:00:00Z" and frank["tier"] == "standard" and frank["owner"] == "data"
    merge_time = _git(history_repo, "log", "-1", "--format=%cI").strip()
    assert grace["pr"] == 22 and grace["approvers"] == ["dave-acme"]
    assert datetime.fromisoformat(grace["merged_at"].replace("Z", "+00:00")) == datetime.fromisoformat(merge_time)
    assert grace["applied_at"] == "2026-11-22T12:00:00Z"

    res = history_repo.run("audit", "who-has", "gcp/acme-data-dev", "--role", "roles/storage.objectViewer",
                           "--format", "json", capsys=capsys)
    assert [r["principal"] for r in json.loads(res.out)["grants"]] == ["user:grace@acme.example"]

    text = history_repo.run("audit", "who-has", "acme-data-dev", capsys=capsys).out
    assert "#22" in text and "dave-acme" in text and "unknown" in text


def test_who_has_reads_git_history_with_one_log_process(repo, monkeypatch, capsys):
    people = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
    roles = ("roles/bigquery.dataViewer", "roles/bigquery.dataEditor", "roles/storage.objectViewer")
    for i in range(30):
        repo.write(f"{DEV}/user{i}.yaml", _request(f"user:{people[i % 10]}@acme.example", roles[i // 10],
                                                   "2026-12-10"))
        if i % 3 == 0:
            repo.commit(f"Batch {i} (#{100 + i})")
    repo.commit("last batch (#200)")
    calls = []
    real = subprocess.run

    def counting(cmd, *a, **kw):
        calls.append(cmd)
        return real(cmd, *a, **kw)

    monkeypatch.setattr("tools.core.repo.subprocess.run", counting)
    res = repo.run("audit", "who-has", "acme-data-dev", "--format", "json", capsys=capsys)
    grants = [g for g in json.loads(res.out)["grants"] if g["principal"].startswith("user:")]  # not the agent sample
    assert len(grants) == 30 and {g["pr"] for g in grants} == {100 + i for i in range(0, 30, 3)} | {200}
    # one log for the requests' history, one for the access-review dates (tools.provision.access_reviews):
    # a constant, never one per file
    assert sum(1 for c in calls if "log" in c) == 2


def test_unknown_target_is_a_usage_error(repo):
    res = repo.run_process("audit", "who-has", "acme-nowhere")
    assert res.code == 2 and "acme-nowhere" in res.err and "acme-data-dev" in res.err and "Traceback" not in res.err


@pytest.fixture
def cloud(repo, monkeypatch, capsys):
    cloud = MemoryCloud()
    monkeypatch.setattr("tools.provision.apply.connector_for", cloud.connector)
    assert repo.run("apply", capsys=capsys).code == 0
    return cloud


def test_live_cross_check_is_clean_when_the_cloud_matches(repo, cloud, capsys):
    res = repo.run("audit", "who-has", "acme-data-prod", "--live", "--format", "json", capsys=capsys)
    assert res.code == 0
    doc = json.loads(res.out)
    assert doc["unexplained"] == [] and {r["live"] for r in doc["grants"]} == {"live"}


def test_live_flags_what_the_repository_cannot_explain(repo, cloud, capsys):
    erin = next(g for g in cloud.grants if g.principal == "user:erin@acme.example")
    (repo.root / erin.request).unlink()  # merged removal not applied yet: the cloud still says erin's request
    repo.commit("Remove erin (#40)")
    cloud.grants.add(Grant("gcp", "acme-data-prod", "user:heidi@acme.example", "gcp-project-role",
                           "roles/bigquery.admin"))  # granted by hand in the console
    etl = next(g for g in cloud.grants if g.kind == "gcp-project-role" and g.principal.startswith("serviceAccount:"))
    cloud.grants.discard(etl)

    res = repo.run("audit", "who-has", "acme-data-prod", "--live", "--format", "json", capsys=capsys)
    assert res.code == 1
    doc = json.loads(res.out)
    flagged = {u["principal"]: u for u in doc["unexplained"]}
    assert set(flagged) == {"user:erin@acme.example", "user:heidi@acme.example"}
    assert flagged["user:erin@acme.example"]["cloud_request"] == erin.request
    assert "no longer grants" in flagged["user:erin@acme.example"]["why"]
    assert flagged["user:heidi@acme.example"]["cloud_request"] is None
    live = {(r["principal"], r["kind"]): r["live"] for r in doc["grants"]}
    assert live[(etl.principal, "gcp-project-role")] == "missing in cloud"
    assert live[(etl.principal, "gcp-service-account")] == "live"

    text = repo.run("audit", "who-has", "acme-data-prod", "--live", capsys=capsys)
    assert text.code == 1 and "unexplained" in text.out and "heidi" in text.out


def test_history_shows_grant_renewal_change_and_revocation_in_order(repo, capsys):
    path = f"{DEV}/oncall-x1.yaml"  # the name says nothing about whom it grants
    repo.write(path, _request("user:frank@acme.example", "roles/bigquery.dataViewer", "2026-12-01"))
    repo.commit("Grant frank (#50)")
    repo.write(path, _request("user:frank@acme.example", "roles/bigquery.dataViewer", "2027-03-01"))
    repo.commit("Renew frank (#51)")
    repo.write(path, _request("user:frank@acme.example", "roles/storage.objectViewer", "2027-03-01"))
    repo.commit("Frank needs objects, not tables (#52)")
    _record(repo, 52, ("dave-acme",), Grant("gcp", "acme-data-dev", "user:frank@acme.example", "gcp-project-role",
                                            "roles/storage.objectViewer", None, path))
    (repo.root / path).unlink()
    repo.commit("Remove frank's access (#53)")
    repo.write(f"{DEV}/someone-else.yaml", _request("user:grace@acme.example", "roles/viewer", "2027-01-01"))
    repo.commit("unrelated (#54)")

    res = repo.run("audit", "history", "frank-acme", "--format", "json", capsys=capsys)
    assert res.code == 0
    doc = json.loads(res.out)
    assert doc["principal"] == "user:frank@acme.example"
    git_events = [(e["event"], e["pr"]) for e in doc["events"] if e["source"] == "git"]
    assert git_events == [("grant", 50), ("renewal", 51), ("change", 52), ("revocation", 53)]
    change = next(e for e in doc["events"] if e["pr"] == 52 and e["source"] == "git")
    assert "+ gcp-project-role roles/storage.objectViewer in acme-data-dev" in change["detail"]
    assert "- gcp-project-role roles/bigquery.dataViewer in acme-data-dev" in change["detail"]
    applied = [e for e in doc["events"] if e["source"] == "apply-record"]
    assert len(applied) == 1 and "approvers dave-acme" in applied[0]["detail"]
    assert all(e["request"] == path for e in doc["events"])


def test_history_marks_expiry_of_a_file_still_on_main(repo, capsys, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-10-01T09:00:00Z")
    repo.write(f"{DEV}/frank-old.yaml", _request("user:frank@acme.example", "roles/viewer", "2026-11-01"))
    repo.commit("old grant (#60)")
    res = repo.run("audit", "history", "user:frank@acme.example", "--format", "json", capsys=capsys)
    events = json.loads(res.out)["events"]
    assert [e["event"] for e in events] == ["grant", "expiry"]
    assert events[1]["time"] == "2026-11-01T00:00:00Z" and "still on main" in events[1]["detail"]


def test_history_of_a_service_account_includes_the_identity_and_its_grants(repo, capsys):
    res = repo.run("audit", "history", "serviceAccount:acme-data-prod/etl-runner", "--format", "json", capsys=capsys)
    kinds = sorted(e["event"] for e in json.loads(res.out)["events"])
    assert kinds == ["grant", "identity-created"]


def test_history_of_an_unknown_name_is_a_usage_error(repo):
    res = repo.run_process("audit", "history", "nobody-at-all")
    assert res.code == 2 and "not an email, GitHub login, team or principal" in res.err


# ---- report ------------------------------------------------------------------
class Structure(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}
    SVG_LEAF = {"line", "circle", "rect", "path"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tables: list[dict] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        for name in ("src", "href", "xlink:href", "action"):
            if a.get(name):
                self.urls.append(a[name])
        if tag == "table":
            self.tables.append(a)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _report(repo, capsys, fmt):
    res = repo.run("audit", "report", "--format", fmt, capsys=capsys)
    assert res.code == 0, res.err
    return res.out


def test_html_report_is_one_balanced_self_contained_page_with_a_table_per_target(history_repo, capsys):
    org = history_repo.read("policies/data/organization.yaml").replace("name: Acme", 'name: "<script>x</script>"')
    history_repo.write("policies/data/organization.yaml", org)
    html = _report(history_repo, capsys, "html")
    parser = Structure()
    parser.feed(html)
    parser.close()
    assert parser.errors == [] and parser.stack == []
    assert "script" not in parser.tags and "link" not in parser.tags and parser.urls == []
    assert "&lt;script&gt;x&lt;/script&gt; access report" in html
    per_target = [t["data-target"] for t in parser.tables if t.get("class") == "target"]
    assert len(per_target) == 7 and len(set(per_target)) == 7  # every account and project of the org model
    assert "svg" in parser.tags and parser.tags.count("line") >= 6
    text = "".join(parser.text)
    json_doc = json.loads(_report(history_repo, capsys, "json"))
    for principal in json_doc["principals"]:
        assert principal in text
    assert "PR.AA-05" in text and "NHI7:2025 Long-Lived Secrets" in text
    assert "#22" in text and "dave-acme" in text


def test_csv_and_json_reports_list_every_grant_once(history_repo, capsys):
    doc = json.loads(_report(history_repo, capsys, "json"))
    rows = list(csv.DictReader(io.StringIO(_report(history_repo, capsys, "csv"))))
    assert len(rows) == len(doc["rows"]) == 15  # 13 sample grants (the agents and integrations included) + frank + grace
    grace = next(r for r in rows if r["principal"] == "user:grace@acme.example")
    assert grace["approvers"] == "dave-acme" and grace["pr"] == "22" and grace["tier"] == "standard"
    assert grace["last_review"].endswith("(dave-acme)") and "S3" in grace["safeguards"].split()
    frank = next(r for r in rows if r["principal"] == "user:frank@acme.example")
    assert frank["approvers"] == "unknown"
    ids = {s["id"] for s in doc["safeguards"]}
    assert all(set(r["safeguards"]) <= ids for r in doc["rows"])


def test_report_to_a_file_and_text_refuses_output(history_repo, capsys, tmp_path):
    out = tmp_path / "report.html"
    res = history_repo.run("audit", "report", "--format", "html", "--output", str(out), capsys=capsys)
    assert res.code == 0 and out.read_text().startswith("<!DOCTYPE html>")
    assert history_repo.run("audit", "report", "--output", str(out), capsys=capsys).code == 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(history_repo, capsys, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_report(history_repo, capsys, "html"))
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=90)
    dom = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    parser = Structure()
    parser.feed(dom)
    assert len([t for t in parser.tables if t.get("class") == "target"]) == 7
    assert "svg" in parser.tags and "user:grace@acme.example" in dom
    assert "Safeguards and control mapping" in dom
