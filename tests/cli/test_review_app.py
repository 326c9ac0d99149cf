"""The review app driven headless with Textual's Pilot: every action, and what it stores."""

from __future__ import annotations

import asyncio
from pathlib import Path

from review_helpers import review_audit

from nerqa.data.tags import Span
from nerqa.review.apply import apply_decisions
from nerqa.review.decisions import DecisionStore
from nerqa.review.session import ReviewSession
from nerqa_cli.review_app import ReviewApp
from nerqa_cli.review_screens import EditScreen, FilterScreen, FormsScreen, HelpScreen, LinkedScreen


def make_app(folder: Path) -> ReviewApp:
    return ReviewApp(ReviewSession(review_audit(), DecisionStore.open(folder), "pilot"))


def text_of(app: ReviewApp, widget: str) -> str:
    return str(app.query_one(widget).render())


def run(coroutine):
    return asyncio.run(coroutine)


def test_accept_keep_skip_and_undo_from_the_keyboard(tmp_path: Path):
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            first = app.current
            assert first.type == "span_shift" and "Issue 1 of 8" in text_of(app, "#progress")
            assert "given" in text_of(app, "#sentence") and "Breast" in text_of(app, "#sentence")
            await pilot.press("a")
            assert app.session.status(
                first
            ) == "accept" and "Saved: accept: 'Breast' D → 'Breast cancer' D (#1)" in text_of(app, "#message")
            second = app.current
            await pilot.press("k")
            assert app.session.status(second) == "keep"
            assert "Saved: keep: " in text_of(app, "#message") and "as given" in text_of(app, "#message")
            third = app.current
            await pilot.press("s")
            assert app.session.status(third) == "skip" and app.session.queue()[-1] == third
            await pilot.press("u")
            assert app.session.status(third) is None and app.current == third and "Undone" in text_of(app, "#message")
            assert "decided 2 (accepted 1, kept 1, edited 0)" in text_of(app, "#progress")
        return app

    app = run(scenario())
    rows = app.session.store.all()
    assert [r.action for r in rows] == ["accept", "keep", "skip", "undo"]


def test_edit_moves_a_boundary_changes_a_type_and_adds_and_deletes_spans(tmp_path: Path):
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            shift = app.current  # "Breast cancer risk rose ." with "Breast" labeled D
            await pilot.press("e")
            assert isinstance(app.screen, EditScreen)
            await pilot.press("right_curly_bracket")  # end of "Breast" D -> "Breast cancer"
            await pilot.press("t")  # D -> next type
            await pilot.press("right", "right", "right")  # cursor to "rose"
            await pilot.press("n")  # new span over "rose"
            await pilot.press("d")  # ... and delete it again
            await pilot.press("right", "shift+left", "n")  # select "rose ." and add a span
            await pilot.press("1")  # type 1 (C)
            await pilot.press("enter")
            assert not isinstance(app.screen, EditScreen)
            return app, shift

    app, shift = run(scenario())
    (decision,) = app.session.store.all()
    assert decision.action == "edit" and decision.issue_id == shift.id
    assert decision.after == (Span(0, 2, "C"), Span(3, 5, "C"))


def test_escape_cancels_an_edit_and_records_nothing(tmp_path: Path):
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            await pilot.press("e", "d")
            await pilot.press("a", "k", "s", "u", "p", "q")  # review keys do nothing under the editor
            assert isinstance(app.screen, EditScreen) and app.session.store.all() == []
            await pilot.press("escape")
            assert "Edit cancelled" in text_of(app, "#message")
        return app

    assert run(scenario()).session.store.all() == []


def test_propagation_after_a_decision_and_same_form_jump(tmp_path: Path):
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            hd = next(i for i in app.session.result.issues if i.type == "wrong_tag" and i.index == 0)
            app.current = hd
            app.redraw()
            assert "'HD' elsewhere: D 2" in text_of(app, "#forms-summary")
            await pilot.press("a")
            assert "2 other mentions of 'HD' read as this one did" in text_of(app, "#message")
            await pilot.press("p")
            assert isinstance(app.screen, LinkedScreen)
            preview = [str(app.screen.rows[i]).strip() for i in range(2)]
            assert preview == ["s. 1: In [HD]C the risk was high .", "s. 2: [HD]C is frequent in families ."]
            await pilot.press("enter")
            assert "Saved: the decision extended to 2 linked mentions" in text_of(app, "#message")
            await pilot.press("b")  # back to the HD issue
            assert app.current == hd and "'HD' elsewhere: C 2" in text_of(app, "#forms-summary")
            await pilot.press("f")
            assert isinstance(app.screen, FormsScreen)
            await pilot.press("down", "enter")  # the second occurrence: sentence 1
            assert app.current.index == 1
            await pilot.press("c")
            assert "before" in text_of(app, "#context") and "HD" in text_of(app, "#context")
        return app

    app = run(scenario())
    rows = app.session.store.all()
    assert [(r.source, r.index) for r in rows] == [("review", 0), ("propagated", 1), ("propagated", 2)]
    fixed = apply_decisions(app.session.result.corpus, app.session.store.effective()).corpus
    assert [s.spans[0].label for s in fixed.sentences[:3]] == ["C", "C", "C"]


def test_filter_help_back_and_finishing(tmp_path: Path):
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape", "slash")
            assert isinstance(app.screen, FilterScreen)
            app.screen.query_one("#types").value = "wrong_tag"
            await pilot.press("enter")
            assert app.current.type == "wrong_tag" and "Issue 1 of 3" in text_of(app, "#progress")
            first = app.current
            await pilot.press("k")
            await pilot.press("b")
            assert app.current == first
            await pilot.press("k", "k", "k")
            assert app.current is None and "All 3 issues decided" in text_of(app, "#progress")
            await pilot.press("q")
        return app

    app = run(scenario())
    # Going back and deciding again records a second decision on the same issue, which supersedes the first.
    rows = app.session.store.all()
    assert (
        [r.action for r in rows] == ["keep"] * 4
        and len({r.issue_id for r in rows}) == 3
        and rows[0].issue_id == rows[1].issue_id
    )
    assert rows[1].supersedes == (rows[0].uid,)
    assert [r.seq for r in app.session.store.effective()] == [2, 3, 4]


def test_a_second_session_resumes_where_the_first_stopped(tmp_path: Path):
    async def first():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            await pilot.press("a", "k")
            return app.current

    async def second():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)):
            return app.current, app.query_one("#progress").render()

    where = run(first())
    current, progress = run(second())
    assert current == where and "Issue 3 of 8" in str(progress)


def test_the_filter_refuses_unknown_values_and_lists_disagreements(tmp_path: Path):
    bob = ReviewSession(review_audit(), DecisionStore.open(tmp_path), "bob")
    hd = next(i for i in bob.result.issues if i.type == "wrong_tag" and i.index == 0)
    bob.decide(hd, "accept")

    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            app.session.decide(hd, "keep")  # pilot keeps what bob accepted: a disagreement
            app.redraw()
            assert "disagreements 1" in text_of(app, "#progress")
            await pilot.press("slash")
            app.screen.query_one("#classes").value = "Chemical"
            await pilot.press("enter")
            assert isinstance(app.screen, FilterScreen)  # refused, with a message naming the classes there are
            app.screen.query_one("#classes").value = ""
            app.screen.query_one("#statuses").value = "disagreement"
            await pilot.press("enter")
            assert not isinstance(app.screen, FilterScreen) and app.current == hd
            assert [i.id for i in app.session.issues] == [hd.id] and "disagreement: bob accept, pilot keep" in text_of(
                app, "#issue"
            )
            await pilot.press("a")  # deciding again resolves it for everyone
            assert app.session.status(hd) == "accept" and app.session.standing.disagreements == {}
            await pilot.press("q")

    run(scenario())


def test_the_help_scrolls_to_its_last_line_at_80_by_24(tmp_path: Path):
    from textual.containers import VerticalScroll

    from nerqa_cli.review_screens import HELP

    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            scroller = app.screen.query_one("#help", VerticalScroll)
            assert scroller.max_scroll_y > 0  # taller than the screen: it must scroll
            scroller.focus()
            await pilot.press("end")
            await pilot.pause()
            assert scroller.scroll_y == scroller.max_scroll_y > 0
            last = HELP.rstrip().splitlines()[-1].strip()
            assert last in str(app.screen.query_one("#help Static").render())

    run(scenario())


def test_a_linked_extension_writes_what_its_preview_shows_and_leaves_out_what_was_unchecked(tmp_path: Path):
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            app.current = next(i for i in app.session.result.issues if i.type == "wrong_tag" and i.index == 0)
            app.redraw()
            await pilot.press("a", "p")
            assert isinstance(app.screen, LinkedScreen)
            shown = {o.index: o.after for o in app.offer[1]}
            await pilot.press("space")  # leave out the first: sentence 1
            assert "left out: stays as it is" in str(app.screen.query_one("#members").get_option_at_index(0).prompt)
            await pilot.press("enter")
            assert "extended to 1 linked mentions, 1 left out" in text_of(app, "#message")
        return app, shown

    app, shown = run(scenario())
    fixed = apply_decisions(app.session.result.corpus, app.session.store.effective()).corpus
    assert tuple(fixed.sentences[2].spans) == shown[2]  # what the preview showed is what apply writes
    assert tuple(fixed.sentences[1].spans) == tuple(app.session.result.corpus.sentences[1].spans)  # left out
    assert [(r.source, r.index) for r in app.session.store.all()] == [("review", 0), ("propagated", 2)]
    # One undo takes the extension back; the decision it extended stays.
    app.session.undo()
    assert [d.index for d in app.session.store.effective()] == [0]


def test_a_keep_is_offered_for_the_same_issues_and_extends_to_the_checked_ones(tmp_path: Path):
    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            first = next(i for i in app.session.result.issues if i.type == "wrong_tag" and i.index == 0)
            same = app.session.same_issues(first)
            app.current = first
            app.redraw()
            await pilot.press("k")
            assert f"{len(same)} other mentions of 'HD' read as this one did" in text_of(app, "#message")
            await pilot.press("p", "enter")
            assert f"extended to {len(same)} linked mentions" in text_of(app, "#message")
        return app, same

    app, same = run(scenario())
    assert same and {app.session.status(i) for i in same} == {"keep"}
    assert {d.action for d in app.session.store.all()} == {"keep"}


def test_automatic_fixes_are_listed_in_the_history_and_a_keep_outvotes_one(tmp_path: Path):
    from nerqa.review.autofix import AUTOFIX_REVIEWER, plan_autofix, record_autofix

    robot = ReviewSession(review_audit(), DecisionStore.open(tmp_path), AUTOFIX_REVIEWER)
    fixes = record_autofix(robot, plan_autofix(robot, force=True))
    assert fixes

    async def scenario():
        app = make_app(tmp_path)
        async with app.run_test(size=(130, 40)) as pilot:
            assert f"auto-fixed, unchecked {len(fixes)}" in text_of(app, "#progress")
            await pilot.press("h")
            await pilot.press(*"automatic")
            assert len(app.screen.shown) == len(fixes)
            await pilot.press("enter")
            assert "an automatic fix: k keeps the given labels instead" in text_of(app, "#message")
            chosen = app.current
            await pilot.press("k")
            return app, chosen

    app, chosen = run(scenario())
    assert app.session.status(chosen) == "keep"
    written = apply_decisions(app.session.result.corpus, app.session.store.effective()).corpus
    assert written.sentences[chosen.index].tags == app.session.result.corpus.sentences[chosen.index].tags
