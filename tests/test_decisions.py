"""The decision log: append under a lock, never lose or tear a line, fold to state; claims."""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time

import pytest

from annotations.claims import Claims, item_key
from annotations.decisions import Decision, DecisionLog, LogState, fold
from extract.errors import InputError

CTX = multiprocessing.get_context("fork")


def dec(doc="d1", label="detention", answer="accept", reviewer="ann", **kw) -> Decision:
    return Decision(doc, label, answer, reviewer=reviewer, **kw)


# ------------------------------------------------------------------ format
def test_append_sets_id_and_time_and_writes_one_line(tmp_path):
    log = DecisionLog(tmp_path / "sub" / "log.jsonl")
    d = log.append(dec(note="Ünïcode\u2028line separator and\nnewline", score=0.9,
                       evidence=[{"text": "DETENTION", "page": None}]))
    assert len(d.id) == 32 and d.time.endswith("Z") and "T" in d.time
    raw = (tmp_path / "sub" / "log.jsonl").read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == 1
    assert "Ü".encode() in raw                      # ensure_ascii=False
    decisions, problems = log.read()
    assert problems == [] and [x.to_dict() for x in decisions] == [d.to_dict()]
    assert Decision.from_dict(json.loads(raw)) == d


@pytest.mark.parametrize("bad, message", [
    ({"doc_id": "x", "label": "fraud"}, "unknown label"),
    ({"doc_id": "x", "label": "detention", "answer": "maybe"}, "unknown answer"),
    ({"doc_id": "x", "label": "detention", "kind": "delete"}, "unknown kind"),
    ({"doc_id": "", "label": "detention"}, "empty doc_id"),
    ({"label": "detention"}, "without doc_id"),
    ({"doc_id": "x", "label": "detention", "score": "high"}, "score must be"),
    ({"doc_id": "x", "label": "detention", "evidence": "text"}, "evidence must be"),
    ({"doc_id": "x", "label": "", "kind": "undo"}, "undo without target"),
    ({"doc_id": 5, "label": "detention"}, "doc_id must be a string"),
    ([1, 2], "JSON object"),
])
def test_invalid_decisions_are_refused(bad, message):
    with pytest.raises(InputError, match=message):
        Decision.from_dict(bad)


@pytest.mark.parametrize("name", ["doc_id", "label", "answer", "reviewer", "kind", "target",
                                  "note", "model_version", "id", "time"])
def test_every_string_field_of_a_decision_is_checked_and_named(name):
    line = {"doc_id": "x", "label": "detention", name: ["not", "a", "string"]}
    with pytest.raises(InputError, match=f"^{name} must be a string, not \\['not', 'a'"):
        Decision.from_dict(line)


def test_append_refuses_an_invalid_decision_and_writes_nothing(tmp_path):
    log = DecisionLog(tmp_path / "log.jsonl")
    with pytest.raises(InputError):
        log.append(dec(label="fraud"))
    assert not (tmp_path / "log.jsonl").exists() or log.read() == ([], [])


# ------------------------------------------------------------------ damage
def test_corrupted_line_in_the_middle_is_reported_with_its_number(tmp_path):
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path)
    first = log.append(dec("a"))
    lines = path.read_bytes()
    path.write_bytes(lines + b'{"doc_id": "b", "label": "detent\n'
                     + b'{"doc_id": "c", "label": "fraud", "id": "x1"}\n' + b"\xff\xfe garbage\n")
    last = log.append(dec("d"))
    decisions, problems = log.read()
    assert [d.id for d in decisions] == [first.id, last.id]
    assert [p.line for p in problems] == [2, 3, 4]
    assert "not JSON" in problems[0].message
    assert "unknown label 'fraud'" in problems[1].message
    state = log.state()
    assert state.problems == problems and set(state.items) == {("a", "detention"),
                                                                ("d", "detention")}


def test_a_line_nested_thousands_deep_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path)
    kept = log.append(dec("a"))
    with open(path, "ab") as fh:                       # hand-edited, hostile
        fh.write(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    decisions, problems = log.read()
    assert [d.id for d in decisions] == [kept.id]
    assert [p.line for p in problems] == [2]


def test_torn_tail_is_reported_and_the_next_append_starts_a_new_line(tmp_path):
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path)
    kept = log.append(dec("a"))
    with open(path, "ab") as fh:                       # a writer died half-way
        fh.write(b'{"doc_id": "b", "label": "deten')
    decisions, problems = log.read()
    assert [d.id for d in decisions] == [kept.id]
    assert len(problems) == 1 and problems[0].line == 2
    assert "incomplete last line" in problems[0].message
    new = DecisionLog(path).append(dec("c"))          # another process appends
    decisions, problems = log.read()
    assert [d.id for d in decisions] == [kept.id, new.id]
    assert [p.line for p in problems] == [2] and "not JSON" in problems[0].message
    assert path.read_bytes().count(b"\n") == 3


def test_duplicate_ids_and_unknown_undo_targets_are_problems(tmp_path):
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path)
    d = log.append(dec("a"))
    line = json.dumps(d.to_dict()) + "\n"
    undo = dec("a", kind="undo", target="nothing-here", id="u1", time="t")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + json.dumps(undo.to_dict()) + "\n")
    decisions, problems = log.read()
    assert len(decisions) == 1
    assert [(p.line, p.message.split(" ")[0]) for p in problems] == [(2, "duplicate"), (3, "undo")]


def test_a_replaced_or_truncated_file_is_read_again_from_the_start(tmp_path):
    path = tmp_path / "log.jsonl"
    log = DecisionLog(path)
    log.append_many([dec("a"), dec("b"), dec("c")])
    assert len(log.read()[0]) == 3
    other = tmp_path / "other.jsonl"
    DecisionLog(other).append(dec("z"))
    os.replace(other, path)
    assert [d.doc_id for d in log.read()[0]] == ["z"]
    assert list(log.state().items) == [("z", "detention")]


def test_reads_are_incremental_and_state_is_cached_and_never_changed(tmp_path):
    path = tmp_path / "log.jsonl"
    reader, writer = DecisionLog(path), DecisionLog(path)
    writer.append(dec("a", reviewer="ann"))
    s1 = reader.state()
    assert reader.state() is s1
    writer.append(dec("a", reviewer="bob", answer="reject"))
    s2 = reader.state()
    assert s2 is not s1
    assert s1.status("a", "detention") == "confirmed"         # the old state is unchanged
    assert s1.items[("a", "detention")].answers == {"ann": "accept"}
    assert s2.status("a", "detention") == "disputed"
    assert reader._offset == path.stat().st_size              # only new bytes were parsed
    assert [x.to_dict() for x in reader.read()[0]] == [x.to_dict() for x in
                                                        DecisionLog(path).read()[0]]


def test_a_log_that_is_a_directory_is_an_input_error_not_a_traceback(tmp_path):
    log = DecisionLog(tmp_path)
    with pytest.raises(InputError, match=r"cannot read decision log \(.*\): Is a directory"):
        log.read()
    with pytest.raises(InputError, match="cannot read decision log"):
        log.state()


def test_missing_log_reads_empty(tmp_path):
    log = DecisionLog(tmp_path / "none.jsonl")
    assert log.read() == ([], [])
    assert log.state().items == {} and log.state().status("x", "detention") == "unreviewed"


# ------------------------------------------------------------------ fold
def test_fold_statuses_with_several_reviewers():
    ds = [dec("a", reviewer="ann"), dec("b", reviewer="ann", answer="reject"),
          dec("c", reviewer="ann"), dec("c", reviewer="bob"),
          dec("d", reviewer="ann"), dec("d", reviewer="bob", answer="reject"),
          dec("e", reviewer="ann", answer="ignore"),
          dec("f", reviewer="ann"), dec("f", reviewer="ann", answer="reject")]
    for n, d in enumerate(ds):
        d.id = f"id{n}"
    state = fold(ds)
    assert {doc: state.status(doc, "detention") for doc in "abcdefg"} == {
        "a": "confirmed", "b": "rejected", "c": "confirmed", "d": "disputed",
        "e": "unreviewed", "f": "rejected", "g": "unreviewed"}
    assert state.items[("d", "detention")].answers == {"ann": "accept", "bob": "reject"}
    assert state.items[("c", "detention")].final == "accept"
    assert state.items[("d", "detention")].final is None
    assert len(state.items[("f", "detention")].decisions) == 2


def test_undo_adjudicate_and_undo_of_undo(tmp_path):
    log = DecisionLog(tmp_path / "log.jsonl")
    a = log.append(dec(reviewer="ann"))
    b = log.append(dec(reviewer="bob", answer="reject"))
    assert log.state().status("d1", "detention") == "disputed"
    adj = log.append(dec(reviewer="carol", kind="adjudicate", answer="reject"))
    item = log.state().items[("d1", "detention")]
    assert (item.status, item.final, item.adjudicator) == ("rejected", "reject", "carol")
    undo_adj = log.append(dec(reviewer="carol", kind="undo", target=adj.id))
    assert log.state().status("d1", "detention") == "disputed"
    log.append(dec(reviewer="bob", kind="undo", target=b.id))
    item = log.state().items[("d1", "detention")]
    assert (item.status, item.answers) == ("confirmed", {"ann": "accept"})
    assert len(item.decisions) == 5                         # undone and undos included
    redo = log.append(dec(reviewer="carol", kind="undo", target=undo_adj.id))
    assert log.state().status("d1", "detention") == "rejected"   # adjudication restored
    assert log.state().last_by("carol").id == adj.id
    assert log.state().last_by("bob") is None
    assert log.state().last_by("ann").id == a.id
    assert log.state().get(redo.id).target == undo_adj.id


def test_undo_restores_a_reviewers_previous_answer():
    first, second = dec(answer="reject", id="1"), dec(answer="accept", id="2")
    undo = dec(kind="undo", target="2", id="3", label="")
    state = fold([first, second, undo])
    assert state.status("d1", "detention") == "rejected"
    assert state.last_by("ann").id == "1"


def test_vendor_events_pass_through_and_undo_works_on_them():
    merge = Decision("geo group", "", kind="vendor_merge", target="geo", reviewer="ann",
                     extra={"members": ["GEO GROUP INC", "THE GEO GROUP"]}, id="m")
    flag = Decision("geo", "detention", kind="vendor_label", reviewer="ann", id="v")
    undo = Decision("geo group", "", kind="undo", target="m", reviewer="ann", id="u")
    assert [d.id for d in fold([merge, flag]).vendor_events] == ["m", "v"]
    state = fold([merge, flag, undo])
    assert [d.id for d in state.vendor_events] == ["v"] and state.items == {}


def test_extended_state_equals_a_full_fold():
    ds = [dec(f"doc{i % 7}", ("detention", "data_broker")[i % 2], ("accept", "reject")[i % 3 == 0],
              reviewer=f"r{i % 3}", id=str(i)) for i in range(60)]
    ds.append(dec("doc1", "data_broker", kind="undo", target="1", id="u1"))
    ds.append(dec("doc0", kind="adjudicate", reviewer="boss", id="adj"))
    whole = fold(ds)
    step = LogState(ds[:20]).extended(ds[20:45]).extended(ds[45:])
    assert {k: v.to_dict() for k, v in whole.items.items()} == \
           {k: v.to_dict() for k, v in step.items.items()}


# ------------------------------------------------------------------ several processes
def _writer(path, worker, count, big):
    log = DecisionLog(path)
    note = "x" * big
    for i in range(count):
        log.append(Decision(f"w{worker}-{i}", "detention", "accept", reviewer=f"r{worker}",
                            note=note))


def test_four_processes_append_250_decisions_each_without_loss_or_tearing(tmp_path):
    path = tmp_path / "log.jsonl"
    procs = [CTX.Process(target=_writer, args=(path, w, 250, 3000 * w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    decisions, problems = DecisionLog(path).read()
    assert problems == []
    assert len(decisions) == 1000
    assert sorted(d.doc_id for d in decisions) == sorted(
        f"w{w}-{i}" for w in range(4) for i in range(250))
    assert len({d.id for d in decisions}) == 1000
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 1001
    for line in lines[:-1]:
        row = json.loads(line)
        assert len(row["note"]) == 3000 * int(row["doc_id"][1])
    for w in range(4):                              # each writer's lines in its own order
        mine = [int(d.doc_id.split("-")[1]) for d in decisions if d.doc_id.startswith(f"w{w}-")]
        assert mine == sorted(mine)


def _killed_writer(path, conn):
    log = DecisionLog(path)
    i = 0
    while True:
        d = log.append(Decision(f"k{i}", "detention", "reject", reviewer="k",
                                note="n" * (i % 5 * 40_000)))
        conn.send(d.id)                              # reported "saved" only after append
        i += 1


def test_a_writer_killed_mid_loop_leaves_a_readable_log(tmp_path):
    path = tmp_path / "log.jsonl"
    receive, send = CTX.Pipe(duplex=False)
    proc = CTX.Process(target=_killed_writer, args=(path, send))
    proc.start()
    saved = []
    deadline = time.monotonic() + 20
    while len(saved) < 40 and time.monotonic() < deadline:
        if receive.poll(0.1):
            saved.append(receive.recv())
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    while receive.poll(0):
        saved.append(receive.recv())
    log = DecisionLog(path)
    decisions, problems = log.read()
    ids = {d.id for d in decisions}
    assert set(saved) <= ids                       # everything reported saved is there
    n_lines = path.read_bytes().count(b"\n")
    assert len(decisions) >= n_lines - 1 and len(problems) <= 1
    if problems:                                   # only a torn last line, reported
        assert problems[0].line == n_lines + 1
    after = log.append(dec("after"))
    decisions2, problems2 = log.read()
    assert decisions2[-1].id == after.id and len(decisions2) == len(decisions) + 1
    assert len(problems2) == len(problems)


# ------------------------------------------------------------------ claims
def test_claims_block_others_and_expire(tmp_path):
    clock = [1000.0]
    claims = Claims(tmp_path / "claims.json", ttl=60, now=lambda: clock[0])
    key = item_key("d1", "detention")
    assert key == "d1|detention"
    assert claims.claim(key, "ann") and claims.holder(key) == "ann"
    assert not claims.claim(key, "bob")
    assert claims.held_by_others("bob") == {key} and claims.held_by_others("ann") == set()
    clock[0] += 50
    assert claims.claim(key, "ann")                 # re-claiming refreshes
    clock[0] += 50
    assert not claims.claim(key, "bob")             # still held: refreshed 50 s ago
    clock[0] += 11
    assert claims.holder(key) is None and claims.claim(key, "bob")
    claims.release(key, "ann")                      # not ann's: nothing happens
    assert claims.holder(key) == "bob"
    claims.release(key, "bob")
    assert claims.holder(key) is None
    claims.claim("a|detention", "ann"), claims.claim("b|detention", "ann")
    claims.release_all("ann")
    assert claims.active() == {}


def test_a_damaged_claims_file_counts_as_no_claims(tmp_path):
    path = tmp_path / "claims.json"
    path.write_text('{"d1|detention": {"reviewer": "ann", "exp')
    claims = Claims(path)
    assert claims.holder("d1|detention") is None and claims.claim("d1|detention", "bob")


def _claimer(path, reviewer, key, start, out):
    while time.time() < start:
        pass
    out.put((reviewer, Claims(path).claim(key, reviewer)))


def test_only_one_process_wins_a_claim(tmp_path):
    out = CTX.Queue()
    start = time.time() + 0.3
    procs = [CTX.Process(target=_claimer, args=(tmp_path / "c.json", f"r{i}", "k|detention",
                                                start, out)) for i in range(6)]
    for p in procs:
        p.start()
    results = [out.get(timeout=20) for _ in procs]
    for p in procs:
        p.join(10)
    winners = [r for r, won in results if won]
    assert len(winners) == 1
    assert Claims(tmp_path / "c.json").holder("k|detention") == winners[0]


def test_standing_decisions_leave_out_undone_and_changed_answers():
    ds = [dec(reviewer="ann", id="1"), dec(reviewer="bob", id="2"),
          dec(kind="undo", target="2", reviewer="bob", id="3"),
          dec(reviewer="cy", id="4"), dec(answer="reject", reviewer="cy", id="5")]
    state = fold(ds)
    item = state.item("d1", "detention")
    assert [d.id for d in state.standing(item)] == ["1", "5"]
    assert item.status == "disputed"
    state = state.extended([dec(kind="adjudicate", reviewer="lead", id="6")])
    assert [d.id for d in state.standing(state.item("d1", "detention"))] == ["6"]


def test_decision_labels_are_the_model_labels():
    from annotations.record import LABELS
    from models.classifier import LABELS as MODEL_LABELS
    assert LABELS == MODEL_LABELS
