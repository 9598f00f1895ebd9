"""Calibrate on the real synthetic board, then personalise, cancel, retrain and switch models.

The model is a real :class:`neurofb.focus.model.FocusLRA` pair (cold and baseline) saved as a
real model folder (safetensors, ONNX graphs, model.json); its weights are untrained, which is all
these screens need.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ui_helpers import STEP_S, connect, end_unkept

from neurofb import paths
from neurofb.focus.card import read_meta
from neurofb.library.index import SessionLibrary
from neurofb.recording import open_recording
from neurofb.training.retrain import improved as retrain_improved

BLOCK_S = 6.0


def yours(page):
    """The user's models listed on the model page (not the shipped ones)."""
    return [m for m in page.models if not m.shipped]


def personalised(qtbot, model, recording):
    """Personalise the model in use on the model page from ``recording``; its report."""
    assert model.personalise(str(recording)) is not None
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 1000)
    assert model.last_error == "", model.last_error
    return model.last_result


@pytest.fixture
def model_dir():
    """A real model folder in the user's models folder (seeded untrained weights)."""
    import torch

    from neurofb.focus.io import save_model
    from neurofb.focus.model import FocusLRA

    torch.manual_seed(0)

    out = paths.data_dir() / "models" / "test-base"
    meta = {"name": "test-base", "metrics": {"auc": 0.5},
            "input": {"window_s": 2.0, "unit": "uV",
                      "channels": ["Fz", "C3", "Cz", "C4", "Pz"]}}
    nets = {"cold": FocusLRA(n_members=2, d_model=8, n_heads=2),
            "baseline": FocusLRA(n_members=2, d_model=8, n_heads=2)}
    return str(save_model(nets, out, meta))


def test_calibrate_personalise_cancel_retrain_and_switch_back(qtbot, make_window, model_dir):
    win = make_window(calib_block_s=BLOCK_S, calib_blocks=2, model_dir=model_dir)
    connect(qtbot, win)
    assert win.stream.current.estimator_name == "model"
    page = win.pages["calibrate"]
    win.show_page("calibrate")
    assert "2 blocks of 6 s" in page.plan.text()
    assert page.start_session()
    # the synthetic board does not follow the blocks: said before anyone personalises from it
    assert win.banner.level == "warning" and "simulation" in win.banner.label.text()
    qtbot.waitUntil(lambda: page.last_step is not None
                    and page.last_step.view.phase == "task", timeout=STEP_S * 1000)
    assert page.last_step.view.task_start is not None
    assert page.canvas_widget.view.instruction.startswith("Count down")
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    res = page.last_result
    assert page.summary.personalise_button.isVisibleTo(page.summary)
    rec = open_recording(res.recording)
    labels = [(m.kind, m.label) for m in rec.markers if m.label in ("rest", "task")]
    assert labels == [("block_start", "rest"), ("block_end", "rest"),
                      ("block_start", "task"), ("block_end", "task")]
    assert all(0 <= m.t <= rec.duration_s + 0.5 for m in rec.markers)
    lib = SessionLibrary()
    rows = lib.list_sessions()
    lib.close()
    assert [r.exercise for r in rows] == ["calibration"]
    # a calibration has no reward feedback: no time on target against a threshold never shown
    assert res.feedback.on_target_fraction is None and res.feedback.time_on_target_s == 0
    assert rows[0].fraction_above is None and rows[0].threshold is None
    # its summary says what it is: its blocks, the clean signal of each, whether it can
    # personalise the model (checked on the recording; this one came from a simulation)
    summary = page.summary
    assert not {"on_target", "fraction", "rewards", "points", "threshold"} & set(summary.values)
    assert summary.values["blocks"].text() == "2 (1 rest, 1 task)"
    for label in ("rest", "task"):
        assert summary.values[f"clean_{label}"].text() == "0:06 of 0:06"
    verdict = summary.values["personalise"]
    qtbot.waitUntil(lambda: not verdict.text().startswith("checking"), timeout=STEP_S * 1000)
    assert verdict.text().startswith("yes — ") and "of rest and" in verdict.text()
    assert "simulation" in verdict.text() and summary.personalise_button.isEnabled()
    hist = win.pages["history"]
    win.show_page("history")
    qtbot.waitUntil(lambda: len(hist.sessions) == 1, timeout=STEP_S * 1000)
    assert hist.table.item(0, 4).text() == "" and hist.above_line.xData is None  # no point

    model = win.pages["model"]
    # cancel at once: whether the worker has checked yet or already finished, nothing is
    # adopted and no model folder is left
    win.show_page("model")
    task = model.personalise(res.recording)
    model.cancel()
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 1000)
    assert task is not None and model.last_error.startswith("cancelled")
    assert "Cancelled" in model.progress_text.text()
    assert win.settings.model_dir == model_dir
    assert len(list((paths.data_dir() / "models").iterdir())) == 1

    # personalise for real: a new model folder, but never used by itself — the synthetic
    # board does not follow the blocks, whatever its held-back figures say; the user may pick
    # it by hand
    page.summary.personalise_button.click()
    assert win.current_page == "model" and model.busy
    assert not model.personalise_button.isEnabled() and model.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 1000)
    assert model.last_error == "", model.last_error
    new = model.last_result["out_dir"]
    assert (Path(new) / "model.json").exists() and "before" in model.last_result
    assert win.settings.model_dir == model_dir and win.banner.level == "warning"
    for text in (win.banner.text, model.progress_text.text()):
        assert "came from the synthetic board, not a headset" in text
        assert "test-base stays in use" in text and "Pick the new model" in text
    model.use_model(new)
    assert win.settings.model_dir == new
    qtbot.waitUntil(lambda: win.stream.current is not None
                    and win.stream.current.model_dir == new, timeout=STEP_S * 1000)
    qtbot.waitUntil(lambda: len(yours(model)) == 2, timeout=STEP_S * 1000)
    # its card: what sets it apart (its personal head), the parent network's weights, and the
    # calibration it was personalised on, from no headset
    card = model.card.text()
    meta = read_meta(new)
    assert "test-base-personal" in card
    assert f"Personal head SHA-256</td><td><b>{meta['personal']['sha256'][:16]}" in card
    assert ("Network weights SHA-256 (its parent's)</td><td><b>"
            f"{read_meta(model_dir)['weights']['sha256'][:16]}") in card
    assert (f"your calibration {Path(res.recording).name} (from the synthetic board, not a "
            "headset)") in card

    # switch back to the earlier model
    row = next(i for i, m in enumerate(model.models) if m.path == model_dir)
    model.list.setCurrentRow(row)
    model.use_selected()
    assert win.settings.model_dir == model_dir
    qtbot.waitUntil(lambda: win.stream.current is not None
                    and win.stream.current.model_dir == model_dir, timeout=STEP_S * 1000)

    # retrain from the library's one labelled recording: nothing is held out from training,
    # so the new model is not validated, and the model in use stays
    task = model.retrain()
    assert task is not None
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 2000)
    assert model.last_error == "", model.last_error
    retrained = model.last_result["out_dir"]
    assert Path(retrained, "model.json").exists()
    assert model.progress.value() == 1000
    assert model.last_result["val_auc"] is None and not retrain_improved(model.last_result)
    assert "could not be validated" in model.progress_text.text()
    assert "AUC" not in model.progress_text.text()
    assert win.settings.model_dir == model_dir
    assert win.banner.level == "warning" and "could not be validated" in win.banner.text
    qtbot.waitUntil(lambda: any(m.path == retrained for m in model.models),
                    timeout=STEP_S * 1000)


def test_a_calibration_ended_in_its_first_block_is_not_kept(qtbot, make_window, model_dir):
    win = make_window(calib_block_s=BLOCK_S, calib_blocks=2, model_dir=model_dir)
    connect(qtbot, win)
    page, model = win.pages["calibrate"], win.pages["model"]
    win.show_page("calibrate")
    assert page.start_session()
    warning = win.banner.text
    assert "recording or a simulation" in warning  # the synthetic board
    qtbot.waitUntil(lambda: page.last_step is not None
                    and page.last_step.view.phase == "rest", timeout=STEP_S * 1000)
    assert win.banner.text == warning  # still true while the calibration runs
    end_unkept(qtbot, page)
    assert page.status.text().startswith("The calibration ended before its first block")
    assert win.banner.text == ""  # the calibration it warned about is over
    lib = SessionLibrary()
    rows = lib.list_sessions()
    lib.close()
    assert rows == []
    win.show_page("model")
    assert model.recording.count() == 0


def test_a_calibration_ended_before_its_task_block_cannot_personalise(qtbot, make_window,
                                                                     model_dir):
    win = make_window(calib_block_s=BLOCK_S, calib_blocks=2, model_dir=model_dir)
    connect(qtbot, win)
    page = win.pages["calibrate"]
    assert page.start_session()
    qtbot.waitUntil(lambda: page.last_step is not None and page.last_step.view.block_index == 1
                    and page.last_step.view.phase == "ready", timeout=STEP_S * 1000)
    page.end_activity()
    qtbot.waitUntil(lambda: page.last_result is not None, timeout=STEP_S * 1000)
    summary = page.summary
    assert summary.values["blocks"].text() == "1 (1 rest, 0 task)"
    verdict = summary.values["personalise"]
    qtbot.waitUntil(lambda: not verdict.text().startswith("checking"), timeout=STEP_S * 1000)
    assert verdict.text().startswith("no — ")
    assert summary.personalise_button.isVisibleTo(summary)
    assert not summary.personalise_button.isEnabled()


def test_retrain_is_validated_on_held_out_recordings_and_waits_for_the_session(
        qtbot, make_window, model_dir, eegmat_dir, tmp_path):
    from focus_helpers import write_calibration_recording

    recs = [str(write_calibration_recording(tmp_path / f"cal{s}", eegmat_dir, s, rest_s=60,
                                            task_s=40)) for s in (1, 2)]
    win = make_window(model_dir=model_dir)
    connect(qtbot, win)
    train = win.pages["train"]
    assert train.start_session()
    model = win.pages["model"]
    # a calibration whose blocks were lost: left out of the retraining, and said
    import shutil

    unlabelled = tmp_path / "unlabelled"
    shutil.copytree(recs[0], unlabelled)
    (unlabelled / "markers.jsonl").write_text("")
    model.add_calibration(str(unlabelled))
    for rec in recs:
        model.add_calibration(rec)
    assert model.recording.currentData() == recs[-1]  # the newest calibration is offered
    assert model.retrain() is not None
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 2000)
    assert model.last_error == "", model.last_error
    res = model.last_result
    assert [line.split(" (")[0] for line in res["left_out"]] == ["unlabelled"]
    assert "Left out: unlabelled (" in model.progress_text.text()
    # each recording was held out from the members that are scored on it; the model in use is
    # scored on the same recordings
    assert res["val_auc"] is not None and res["before_val_auc"] is not None
    assert (f"AUC {res['before_val_auc']:.3f} → {res['val_auc']:.3f} on recordings held out"
            in model.progress_text.text())
    assert retrain_improved(res)  # the parent's untrained weights do no better than chance
    # a session runs: the new model waits for its end instead of ending it
    assert train.running and train.controller.session is not None
    assert win.settings.model_dir == model_dir
    assert win.stream.current.model_dir == model_dir
    assert win.banner.level == "info" and "when the running session ends" in win.banner.text
    # listed at once, marked as waiting, without the page being shown again
    qtbot.waitUntil(lambda: any(m.path == res["out_dir"] for m in model.models),
                    timeout=STEP_S * 1000)
    waiting = [model.list.item(i).text() for i in range(model.list.count())
               if "used when the session ends" in model.list.item(i).text()]
    assert len(waiting) == 1 and Path(res["out_dir"]).name in waiting[0]
    train.end_activity()
    qtbot.waitUntil(lambda: win.settings.model_dir == res["out_dir"], timeout=STEP_S * 1000)
    assert train.last_result is not None and train.last_result.feedback.duration_s > 0
    qtbot.waitUntil(lambda: win.stream.current is not None
                    and win.stream.current.model_dir == res["out_dir"], timeout=STEP_S * 1000)


def test_retraining_a_personalised_model_compares_with_it_and_says_its_head_goes(
        qtbot, make_window, model_dir, eegmat_dir, tmp_path):
    from focus_helpers import write_calibration_recording

    from neurofb.focus.neural import load_estimator
    from neurofb.recording import open_recording
    from neurofb.training.metrics import auc
    from neurofb.training.personalise import personalise
    from neurofb.training.recordings import recording_windows

    recs = [str(write_calibration_recording(tmp_path / f"cal{s}", eegmat_dir, s, rest_s=60,
                                            task_s=40)) for s in (1, 2)]
    personal = personalise(model_dir, recs[0], paths.data_dir() / "models" / "test-personal")
    win = make_window(model_dir=personal["out_dir"])
    model = win.pages["model"]
    for rec in recs:
        model.add_calibration(rec)
    assert model.retrain() is not None
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 2000)
    assert model.last_error == "", model.last_error
    res = model.last_result
    # "before" is the personalised model as it runs (personal head included), each recording
    # scored by it as held out from one member's training
    scores = []
    for rec in recs:
        fs = recording_windows(open_recording(rec), window_s=2.0)
        bound = load_estimator(personal["out_dir"]).bind(fs.ch_names, 90.0)
        bound.request_baseline(None, start_s=0.0)
        logit, _, _ = bound.score_features(fs.X[:, bound.indices], fs.t + 2.0, window_s=2.0)
        scores.append(auc(fs.y, logit))
    assert res["before_val_auc"] == pytest.approx(sum(scores) / len(scores))
    assert res["personal_dropped"]
    assert not (Path(res["out_dir"]) / "personal.safetensors").exists()
    assert "no personal head" in model.progress_text.text()


def test_personalising_again_starts_from_the_population_model(qtbot, make_window, model_dir,
                                                              eegmat_dir, tmp_path):
    """With a personalised model in use (a headset's first calibration is adopted), Personalise
    failed: "already personalised". It now personalises the population model it came from; a
    personalised model whose population model is gone says what to do."""
    import shutil

    from focus_helpers import write_calibration_recording

    from neurofb.training.personalise import personalise

    rec = str(write_calibration_recording(tmp_path / "cal", eegmat_dir, 1, rest_s=60, task_s=40))
    first = personalise(model_dir, rec, paths.data_dir() / "models" / "first-personal")
    win = make_window(model_dir=first["out_dir"])
    model = win.pages["model"]
    model.add_calibration(rec)
    assert model.personalise(None) is not None
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 2000)
    assert model.last_error == "", model.last_error
    again = read_meta(model.last_result["out_dir"])
    assert Path(again["parent"]["path"]).resolve() == Path(model_dir).resolve()
    orphan = shutil.copytree(first["out_dir"], tmp_path / "orphan")
    meta = read_meta(orphan)
    meta["parent"]["path"] = str(tmp_path / "gone")
    (orphan / "model.json").write_text(json.dumps(meta))
    model.use_model(str(orphan))
    qtbot.waitUntil(lambda: model.current_dir == str(orphan), timeout=STEP_S * 1000)
    assert model.personalise(None) is None
    assert "the population model it came from" in model.progress_text.text()


def test_a_personalisation_that_does_worse_is_not_adopted(qtbot, make_window, model_dir,
                                                          eegmat_dir, tmp_path):
    from focus_helpers import write_calibration_recording

    # The person's blocks were not followed in their last 15 s: the held-back windows hold the
    # other state, and the personal head ranks them worse than the model in use.
    rec = write_calibration_recording(tmp_path / "unfollowed", eegmat_dir, 1, rest_s=60,
                                      task_s=40, unfollowed_s=15)
    win = make_window(model_dir=model_dir)
    model = win.pages["model"]
    win.show_page("model")
    res = personalised(qtbot, model, rec)
    assert res["after"]["auc"] < res["before"]["auc"]
    assert win.settings.model_dir == model_dir  # the model in use stays
    assert win.banner.level == "warning" and "did worse" in win.banner.label.text()
    assert "stays in use" in model.progress_text.text()
    # the new model is kept and listed: the user may still choose it
    qtbot.waitUntil(lambda: len(yours(model)) == 2, timeout=STEP_S * 1000)
    assert any(m.path == res["out_dir"] for m in model.models)


def test_model_card_shows_metrics_and_montage(qtbot, make_window, model_dir):
    win = make_window(model_dir=model_dir)
    model = win.pages["model"]
    win.show_page("model")
    qtbot.waitUntil(lambda: len(yours(model)) == 1, timeout=STEP_S * 1000)
    text = model.card.text()
    assert "test-base" in text and "auc" in text and "0.500" in text
    assert model.montage.n_electrodes == 5
    row = next(i for i, m in enumerate(model.models) if m.path == model_dir)
    assert model.list.item(row).text().startswith("●")  # the one in use
    assert sum(model.list.item(i).text().startswith("●") for i in range(model.list.count())) == 1


def test_personalise_without_a_recording_says_what_to_do(qtbot, make_window, model_dir):
    win = make_window(model_dir=model_dir)
    model = win.pages["model"]
    assert model.personalise(None) is None
    assert "calibration recording" in model.progress_text.text()
    assert model.retrain() is None and "record a calibration" in model.progress_text.text()


def test_shipped_model_is_used_by_default_and_its_card_shown(qtbot, make_window):
    if not (paths.default_model_dir() / "model.json").exists():
        pytest.skip("models/focus-default is not installed")
    win = make_window()
    model = win.pages["model"]
    win.show_page("model")
    qtbot.waitUntil(lambda: "focus-default" in model.card.text(), timeout=STEP_S * 1000)
    assert "shipped" in model.card.text() and "AUC" in model.card.text()
    assert model.montage.n_electrodes >= 8


def replayed(path, recording):
    """A recording of ``recording`` replayed as the app replays one (its ReplaySource), with its
    markers: what calibrating on a replay writes."""
    from neurofb.errors import EndOfStream
    from neurofb.recording import RecordingWriter
    from neurofb.stream.replay import ReplaySource

    rec = open_recording(recording)
    src = ReplaySource(rec, speed=None)
    src.start()
    with RecordingWriter(path, src.info) as w:
        while True:
            try:
                chunk = src.read()
            except EndOfStream:
                break
            w.write_chunk(chunk)
        for m in rec.markers:
            w.write_marker(m)
    return path


def test_a_calibration_from_a_replay_is_never_switched_to(qtbot, make_window, model_dir,
                                                          eegmat_dir, tmp_path):
    from focus_helpers import write_calibration_recording

    # the same followed blocks: from the (headset's) recording the personal model is used; from
    # a replay of it, not, though it does as well
    rec = write_calibration_recording(tmp_path / "cal", eegmat_dir, 1, rest_s=60, task_s=40)
    replay = replayed(tmp_path / "replay", rec)
    win = make_window(model_dir=model_dir)
    model = win.pages["model"]
    win.show_page("model")
    res = personalised(qtbot, model, replay)
    assert res["after"]["auc"] > max(res["before"]["auc"], 0.5)
    assert win.settings.model_dir == model_dir
    assert win.banner.level == "warning"
    assert "came from a replayed recording, not a headset" in win.banner.text
    qtbot.waitUntil(lambda: any(m.path == res["out_dir"] for m in model.models),
                    timeout=STEP_S * 1000)
    row = next(i for i, m in enumerate(model.models) if m.path == res["out_dir"])
    model.list.setCurrentRow(row)
    assert "replay (from a replayed recording, not a headset)" in model.card.text()

    new = personalised(qtbot, model, rec)["out_dir"]
    assert win.settings.model_dir == new
    assert "Now using the model" in win.banner.text
    qtbot.waitUntil(lambda: "cal</b>" in model.card.text(), timeout=STEP_S * 1000)
    assert "not a headset" not in model.card.text()


def test_a_personalised_model_is_used_only_when_validated_as_useful():
    from neurofb_ui.model_view import personalise_problems

    # the tester's synthetic calibration: AUC up but below chance, balanced accuracy down
    assert personalise_problems({"auc": 0.136, "balanced_accuracy": 0.5},
                                {"auc": 0.370, "balanced_accuracy": 0.444}) == [
        "balanced accuracy fell", "AUC not above chance (0.5)"]
    assert personalise_problems({"auc": 0.6, "balanced_accuracy": 0.6},
                                {"auc": 0.7, "balanced_accuracy": 0.55}) == [
        "balanced accuracy fell"]
    assert personalise_problems({"auc": 0.3, "balanced_accuracy": 0.5},
                                {"auc": 0.5, "balanced_accuracy": 0.5}) == [
        "AUC not above chance (0.5)"]
    assert personalise_problems({"auc": 0.8, "balanced_accuracy": 0.7},
                                {"auc": 0.7, "balanced_accuracy": 0.7}) == ["AUC fell"]
    assert personalise_problems({"auc": 0.6, "balanced_accuracy": 0.5},
                                {"auc": 0.6, "balanced_accuracy": 0.5}) == []
    assert personalise_problems({"auc": 0.6}, {"auc": float("nan")}) == [
        "AUC fell", "AUC not above chance (0.5)"]


def test_models_are_listed_newest_first_shipped_or_not(model_dir):
    import json
    import shutil

    from neurofb_ui.model_view import list_models

    # created as the app writes it (UTC) and in another offset: 03:00+02:00 is 01:00 UTC
    times = {"b-0100": "2026-12-01T03:00:00+02:00", "a-0200": "2026-12-01T02:00:00+00:00",
             "c-2020": "2020-01-01T00:00:00+00:00"}
    for name, created in times.items():
        out = shutil.copytree(model_dir, Path(model_dir).parent / name)
        meta = json.loads((out / "model.json").read_text())
        (out / "model.json").write_text(json.dumps({**meta, "created": created}))
    names = [m.name for m in list_models()]
    assert [n for n in names if n in times] == ["a-0200", "b-0100", "c-2020"]
    shipped = paths.default_model_dir().name
    if (paths.default_model_dir() / "model.json").exists():  # created 2026-11-30
        assert names.index("b-0100") < names.index(shipped) < names.index("c-2020")


def set_user(win, name):
    """Change the user on the Settings page, as typed."""
    win.settings_page.user.setText(name)
    win.settings_page.user.editingFinished.emit()


def test_each_user_keeps_their_own_model(qtbot, make_window, model_dir, eegmat_dir, tmp_path):
    import json

    from focus_helpers import write_calibration_recording

    from neurofb_ui.settings import load_settings, settings_path

    # a settings file from before models were kept per user: one model for everyone
    settings_path().write_text(json.dumps({"user": "patient B", "model_dir": model_dir}))
    old = load_settings()
    assert (old.user, old.model_dir, old.user_models) == ("patient B", model_dir, {})
    win = make_window(user=old.user, model_dir=old.model_dir)
    model = win.pages["model"]
    rec = write_calibration_recording(tmp_path / "cal", eegmat_dir, 1, rest_s=60, task_s=40)
    new = personalised(qtbot, model, rec)["out_dir"]
    assert win.settings.model_dir == new
    assert read_meta(new)["calibrated_for"] == "patient B"  # whom it was calibrated for

    default = paths.default_model_dir().name
    set_user(win, "patient A")  # never chose one: the shipped default
    assert win.settings.model_dir == ""
    assert win.banner.text == f"User patient A: now using the model {default}."
    set_user(win, "patient B")  # their last choice
    assert win.settings.model_dir == new
    set_user(win, "patient A")
    assert load_settings().user_models == {"patient A": "", "patient B": new}

    # patient B's model is listed as theirs; patient A may still choose it, and is told whose
    win.show_page("model")

    def listed():
        rows = [i for i in range(model.list.count()) if "(for patient B, " in
                model.list.item(i).text()]
        return rows[0] if rows else None

    qtbot.waitUntil(lambda: listed() is not None, timeout=STEP_S * 1000)
    row = listed()
    assert model.models[row].path == new and not model.list.item(row).text().startswith("●")
    model.list.setCurrentRow(row)
    assert "Calibrated for</td><td><b>patient B (not the current user)" in model.card.text()
    model.use_selected()
    assert win.settings.model_dir == new
    assert "calibrated for patient B" in win.banner.text
    assert load_settings().user_models["patient A"] == new


def test_a_new_users_model_waits_for_the_running_session(qtbot, make_window, model_dir):
    from neurofb_ui.settings import load_settings

    win = make_window(user="patient B", model_dir=model_dir)
    connect(qtbot, win)
    train = win.pages["train"]
    assert train.start_session()
    set_user(win, "patient A")
    assert win.settings.model_dir == model_dir and win.stream.current.model_dir == model_dir
    assert "User patient A: " in win.banner.text
    assert "when the running session ends" in win.banner.text
    train.end_activity()
    qtbot.waitUntil(lambda: win.settings.model_dir == "", timeout=STEP_S * 1000)
    assert load_settings().user_models == {"patient A": "", "patient B": model_dir}
    qtbot.waitUntil(lambda: win.stream.current is not None
                    and win.stream.current.model_dir != model_dir, timeout=STEP_S * 1000)


def test_a_personalisation_finished_after_a_user_switch_stays_its_users(
        qtbot, make_window, model_dir, eegmat_dir, tmp_path):
    # Patient B's personalisation finishes after the clinician switched to patient A: it
    # becomes patient B's model; patient A's model stays in use.
    from focus_helpers import write_calibration_recording

    from neurofb_ui.settings import load_settings

    win = make_window(user="patient B", model_dir=model_dir)
    model = win.pages["model"]
    rec = write_calibration_recording(tmp_path / "cal", eegmat_dir, 1, rest_s=60, task_s=40)
    assert model.personalise(str(rec)) is not None
    set_user(win, "patient A")  # while it runs (the job takes about a second)
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 1000)
    new = model.last_result["out_dir"]
    assert read_meta(new)["calibrated_for"] == "patient B"
    assert win.settings.user == "patient A" and win.settings.model_dir == ""
    assert load_settings().user_models["patient B"] == new
    assert "was made for patient B" in win.banner.text
    set_user(win, "patient B")
    assert win.settings.model_dir == new


def test_each_user_is_offered_only_their_own_calibrations(qtbot, make_window, model_dir,
                                                          eegmat_dir, tmp_path):
    """Patient A's calibration is neither offered to nor used for patient B's model (it was:
    the page listed every user's calibrations and retrained on all of them)."""
    from focus_helpers import write_calibration_recording

    from neurofb.library.summary import SessionSummary

    rec = str(write_calibration_recording(tmp_path / "cal-a", eegmat_dir, 1, rest_s=40,
                                          task_s=30))
    with SessionLibrary() as lib:
        lib.add_session(SessionSummary(user="patient A", exercise="calibration",
                                       started_at="2025-01-01T10:00:00+00:00",
                                       duration_s=70.0, recording_path=rec))
    win = make_window(user="patient A", model_dir=model_dir)
    model = win.pages["model"]
    model.refresh()
    qtbot.waitUntil(lambda: model.recording.count() == 1, timeout=STEP_S * 1000)
    assert model.recording.currentData() == rec
    set_user(win, "patient B")
    assert model.recording.count() == 0
    model.refresh()
    qtbot.wait(500)
    assert model.recording.count() == 0 and model._calibrations == []
    assert model.retrain() is None and "No labelled recordings yet" in model.progress_text.text()
    set_user(win, "patient A")
    model.refresh()
    qtbot.waitUntil(lambda: model.recording.count() == 1, timeout=STEP_S * 1000)


def test_a_calibration_the_model_cannot_read_is_left_out_of_retraining(tmp_path, eegmat_dir):
    """A calibration on a board with unnamed channels (EEG1, EEG2, …) is left out with its
    reason; retraining goes on with the others (it had failed every time)."""
    import json
    import shutil

    from focus_helpers import write_calibration_recording

    from neurofb_ui.model_view import usable_recordings

    good = str(write_calibration_recording(tmp_path / "good", eegmat_dir, 1, rest_s=30,
                                           task_s=20))
    bad = tmp_path / "unnamed"
    shutil.copytree(good, bad)
    meta = json.loads((bad / "meta.json").read_text())
    meta["ch_names"] = [f"EEG{i + 1}" for i in range(len(meta["ch_names"]))]
    (bad / "meta.json").write_text(json.dumps(meta))
    usable, left_out = usable_recordings([str(bad), good])
    assert usable == [good]
    assert left_out == [f"unnamed (0 of its {len(meta['ch_names'])} channels are 10-20/10-10 "
                        "electrodes; the model needs 3)"]


def test_another_user_does_not_see_the_last_users_calibration_summary(qtbot, make_window,
                                                                      model_dir):
    """The calibration page kept patient A's summary, its Personalise button live, after the
    switch to patient B (whose model it would then have personalised)."""
    win = make_window(user="patient A", model_dir=model_dir, calib_block_s=BLOCK_S,
                      calib_blocks=2)
    connect(qtbot, win)
    page = win.pages["calibrate"]
    win.show_page("calibrate")
    assert page.start_session()
    qtbot.waitUntil(lambda: not page.running and page.last_result is not None,
                    timeout=STEP_S * 1000)
    assert page.last_result.kept and page.stack.currentWidget() is page.summary
    set_user(win, "patient B")
    assert page.stack.currentWidget() is not page.summary
    assert page.clock.text() == "–"


@pytest.mark.parametrize(("source", "said"), [
    ({"board_id": -3, "master_board": 0}, "a replayed recording (BrainFlow's playback board)"),
    ({"board_id": -3, "master_board": -1}, "the synthetic board"),
    ({"board_id": -1, "master_board": -1}, "the synthetic board"),
    ({"replay": "demo-eegmat"}, "a replayed recording"),
    ({"board_id": 0, "master_board": 0}, ""),  # a Cyton: a headset
])  # fmt: skip
def test_a_calibration_names_what_it_came_from_when_not_a_headset(source, said, tmp_path):
    """A playback board's calibration was taken for a headset's (and its personalised model
    could be switched to by itself)."""
    from neurofb.recording import RecordingWriter
    from neurofb.types import SourceInfo
    from neurofb_ui.model_view import calibration_source

    info = SourceInfo(("Fz", "Cz", "Pz"), 250.0, "board", details=source)
    with RecordingWriter(tmp_path / "cal", info) as writer:
        writer.flush()
    assert calibration_source(str(tmp_path / "cal")) == said


def test_a_job_brings_its_progress_and_cancel_into_view(qtbot, make_window, eegmat_dir,
                                                       tmp_path):
    """At 1280×720 the model card filled the page and the progress bar and Cancel of a
    personalisation started from a summary were below the fold."""
    from focus_helpers import write_calibration_recording

    rec = write_calibration_recording(tmp_path / "cal", eegmat_dir, 1, rest_s=60, task_s=40)
    win = make_window()  # the shipped model: the longest card
    win.resize(1280, 690)
    model = win.pages["model"]
    win.show_page("calibrate")  # as from a calibration's summary: the page is not shown yet
    win.pages["calibrate"].personalise(str(rec))
    assert model.busy and model.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not model.cancel_button.visibleRegion().isEmpty())
    assert not model.progress_text.visibleRegion().isEmpty()
    qtbot.waitUntil(lambda: not model.busy, timeout=STEP_S * 1000)
    assert not model.progress_text.visibleRegion().isEmpty()  # its result too
