"""Settings persist in the user config dir; sound degrades without audio; ``neurofb app``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ui_helpers import CONNECT_S, connect

from neurofb import paths


def test_settings_page_edits_persist_across_windows(qtbot, make_window):
    from neurofb_ui.settings import load_settings

    win = make_window()
    page = win.settings_page
    page.user.setText("ada")
    page.user.editingFinished.emit()
    page.reward_rate.setValue(55)
    page.volume.setValue(30)
    page.muted.setChecked(True)
    page.calib_block_s.setValue(20)
    page.exercise.setCurrentText("rocket")
    saved = load_settings()
    assert (saved.user, saved.reward_rate, saved.volume, saved.muted) == ("ada", 0.55, 0.3, True)
    assert saved.calib_block_s == 20 and saved.exercise == "rocket"
    assert win.settings == saved
    # the other pages follow
    assert win.pages["train"].exercise_name == "rocket"
    assert win.pages["train"].mute.isChecked()
    assert "blocks of 20 s" in win.pages["calibrate"].plan.text()
    assert win.sound.muted and win.sound.volume == pytest.approx(0.3)
    win2 = make_window(**{k: getattr(saved, k) for k in ("user", "reward_rate", "volume")})
    assert win2.settings_page.user.text() == "ada"
    assert win2.settings_page.reward_rate.value() == 55


def test_source_choice_and_board_fields_are_remembered(qtbot, make_window):
    from neurofb_ui.settings import load_settings
    from neurofb_ui.source_panel import SourceSpec, demo_path

    win = make_window()
    win.source.select(SourceSpec(kind="board", board="cyton",
                                 fields={"serial_port": "/dev/ttyUSB9"}))
    assert win.source.board_box.isVisibleTo(win.source)
    win._remember_source(win.source.spec())
    saved = load_settings()
    assert (saved.source, saved.board, saved.board_fields) == (
        "board", "cyton", {"serial_port": "/dev/ttyUSB9"})
    # streaming the synthetic board for a while keeps the headset's configuration
    connect(qtbot, win, "synthetic")
    saved = load_settings()
    assert (saved.source, saved.board, saved.board_fields) == (
        "synthetic", "cyton", {"serial_port": "/dev/ttyUSB9"})
    # a replay from History is a one-off: the saved source stays as it was
    if not demo_path():
        pytest.skip("the demo recording is not installed")
    win.replay(demo_path(), 5.0)
    qtbot.waitUntil(lambda: win.stream.current is not None
                    and win.stream.current_state == "connected"
                    and win.source.kind.currentData() == "file", timeout=CONNECT_S * 1000)
    assert load_settings() == saved == win.settings


def test_a_new_model_reconnects_a_replay_as_a_replay_without_saving_it(qtbot, make_window,
                                                                        tmp_path):
    from neurofb_ui.settings import load_settings
    from neurofb_ui.source_panel import demo_path

    if not demo_path() or not (paths.default_model_dir() / "model.json").exists():
        pytest.skip("the demo recording or the shipped model is not installed")
    win = make_window()
    connect(qtbot, win, "synthetic")
    saved = load_settings()
    win.replay(demo_path(), 5.0)
    qtbot.waitUntil(lambda: win.stream.current is not None
                    and win.stream.current_state == "connected", timeout=CONNECT_S * 1000)
    first = win.stream.current
    # adopting a model (as "Use this model" and a personalisation do) restarts the stream:
    # the replay goes on from where it was, and is still not the source saved for next time
    other = tmp_path / "another-model"
    shutil.copytree(paths.default_model_dir(), other)
    win.pages["model"].use_model(str(other))
    qtbot.waitUntil(lambda: win.stream.current not in (None, first)
                    and win.stream.current_state == "connected", timeout=CONNECT_S * 1000)
    replay = win.stream.current.request.source
    assert Path(replay.recording).resolve() == Path(demo_path()).resolve()
    assert replay.seek_s >= 5.0
    assert load_settings().source == saved.source == "synthetic"
    # the model already in use: said so, and the stream is not restarted for nothing
    second = win.stream.current
    win.pages["model"].use_model(str(other))
    assert "is the model in use" in win.banner.text
    qtbot.wait(500)
    assert win.stream.current is second


def test_settings_page_follows_changes_made_elsewhere(qtbot, make_window):
    from neurofb_ui.settings import load_settings

    win = make_window(target="engagement")
    page = win.settings_page
    assert page.target.currentText() == "engagement"
    win.pages["model"].use_model(str(paths.default_model_dir()))  # "Use this model"
    assert win.settings.target == "model"
    assert page.target.currentText() == "model"
    page.reward_rate.setValue(80)  # the next edit saves the target the page now shows
    saved = load_settings()
    assert (saved.target, saved.reward_rate) == ("model", 0.8)


def test_feedback_target_is_checked_and_saved_when_typed_in_full(qtbot, make_window):
    from PyQt6.QtCore import Qt

    from neurofb_ui.settings import load_settings

    win = make_window()
    page = win.settings_page
    saves = []
    page.changed.connect(saves.append)
    edit = page.target.lineEdit()
    edit.clear()
    qtbot.keyClicks(edit, "band:beta/theta@Fz")
    assert saves == [] and load_settings().target == "model"  # nothing saved while typing
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert [s.target for s in saves] == ["band:beta/theta@Fz"]
    assert load_settings().target == "band:beta/theta@Fz" and page.error("target") == ""
    assert page.target.count() == 5  # the list of targets stays as it was
    # a target the engine does not know is refused at once, next to the field
    edit.selectAll()
    qtbot.keyClicks(edit, "focsu")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert "unknown band-power target 'focsu'" in page.error("target")
    assert page.fields["target"].error.isVisibleTo(page)
    assert "#d32f2f" in page.fields["target"].frame.styleSheet()  # framed red
    assert load_settings().target == "band:beta/theta@Fz" and len(saves) == 1
    # a change made elsewhere keeps the refused text on screen, marked, and saves nothing of it
    win.update_settings(volume=0.2)
    assert page.target.currentText() == "focsu" and page.error("target")
    page.target.setCurrentText("smr")
    page.target.activated.emit(0)
    assert load_settings().target == "smr" and page.error("target") == ""
    assert "#d32f2f" not in page.fields["target"].frame.styleSheet()


def test_a_refused_field_does_not_keep_the_others_from_saving(qtbot, make_window):
    from neurofb_ui.settings import load_settings

    win = make_window()
    page = win.settings_page
    qtbot.keyClicks(page.osc_out, "localhost")
    page.osc_out.editingFinished.emit()
    assert "expected HOST:PORT" in page.error("osc_out")
    page.reward_rate.setValue(80)
    saved = load_settings()
    assert (saved.reward_rate, saved.osc_out) == (0.8, "")
    assert win.settings.reward_rate == 0.8
    assert page.error("osc_out") and page.osc_out.text() == "localhost"
    assert page.error("reward_rate") == ""
    # what was saved, and that the refused field was not (a later save said only "Saved")
    assert page.saved.text().startswith("Saved in") and "except osc out" in page.saved.text()
    page.osc_out.setText("127.0.0.1:9000")
    page.osc_out.editingFinished.emit()
    assert load_settings().osc_out == "127.0.0.1:9000" and page.error("osc_out") == ""
    assert "except" not in page.saved.text()


def test_a_blank_user_is_refused_not_taken_for_the_default(qtbot, make_window):
    # Sessions and models are kept per user: a blank name silently becoming "me" would mix
    # one patient's sessions with another's.
    from neurofb_ui.settings import load_settings

    win = make_window(user="patient A")
    page = win.settings_page
    page.user.setText("   ")
    page.user.editingFinished.emit()
    assert "give the user a name" in page.error("user")
    assert win.settings.user == load_settings().user == "patient A"


def test_unreadable_settings_file_is_kept_aside(tmp_path):
    from neurofb_ui.settings import AppSettings, load_settings, settings_path

    path = settings_path()
    path.write_text("{not json", encoding="utf-8")
    assert load_settings() == AppSettings()
    assert path.with_name(path.name + ".bad").read_text() == "{not json"


def test_one_value_out_of_range_costs_that_value_only(tmp_path):
    """A settings file of an older release with a 1-s calibration block (refused now) keeps the
    user, their model and everything else; only that value goes back to its default."""
    import json

    from neurofb_ui.settings import AppSettings, load_settings, settings_path

    path = settings_path()
    path.write_text(json.dumps({"user": "patient A", "reward_rate": 0.55, "calib_block_s": 1.0,
                                "model_dir": "/models/a"}), encoding="utf-8")
    got = load_settings()
    assert (got.user, got.reward_rate, got.model_dir) == ("patient A", 0.55, "/models/a")
    assert got.calib_block_s == AppSettings().calib_block_s


def test_a_hand_edited_file_beyond_the_pages_ranges_costs_those_values(tmp_path):
    """Loaded as it was: the page showed 40 blocks while 1000 would run, a target no stream
    knows failed every connection, a session of -3 min read as "no limit"."""
    import json

    from neurofb_ui.settings import AppSettings, load_settings, settings_path

    settings_path().write_text(json.dumps({
        "user": "patient A", "target": "focsu", "calib_blocks": 1000, "session_min": -3,
        "exercise": "chess", "reward_rate": 0.55}), encoding="utf-8")
    got, default = load_settings(), AppSettings()
    assert (got.user, got.reward_rate) == ("patient A", 0.55)
    for key in ("target", "calib_blocks", "session_min", "exercise"):
        assert getattr(got, key) == getattr(default, key), key
    # values of another type: the window's widgets refused them with a traceback at start
    settings_path().write_text(json.dumps({
        "user": "patient A", "calib_blocks": 6.0, "muted": "false", "record": "false",
        "session_min": True, "volume": True, "user_models": []}), encoding="utf-8")
    got = load_settings()
    assert got.user == "patient A"
    for key in ("calib_blocks", "muted", "record", "session_min", "volume", "user_models"):
        assert getattr(got, key) == getattr(default, key), key


def test_bad_setting_values_are_rejected():
    from neurofb_ui.settings import AppSettings

    with pytest.raises(ValueError, match="reward_rate"):
        AppSettings(reward_rate=1.5)
    with pytest.raises(ValueError, match="unknown board fields"):
        AppSettings(board_fields={"colour": "red"})
    # a 1-s calibration block holds no 2-s window of its kind: nothing to personalise from
    with pytest.raises(ValueError, match="blocks of at least 5 s"):
        AppSettings(calib_block_s=1.0)


def test_sound_without_audio_device_is_silent_not_fatal(qtbot, caplog):
    from neurofb.practice.tones import reward_tone, wav_bytes
    from neurofb_ui.sound import SoundPlayer

    player = SoundPlayer(volume=0.5)
    path = player.load("reward", wav_bytes(reward_tone()))
    assert path.read_bytes()[:4] == b"RIFF"
    played = player.play("reward")
    assert player.played["reward"] == 1
    if not player.available:  # offscreen CI: no device, a clear reason, nothing raised
        assert played is False and player.reason
    player.set_muted(True)
    assert player.play("reward") is False
    with pytest.raises(ValueError, match="volume"):
        player.set_volume(2.0)


def test_sound_controls_say_why_there_is_no_sound(qtbot, make_window):
    """Where QtMultimedia cannot play (no audio library or device, as on a headless machine),
    the training page and the settings say so, and why, beside disabled sound controls."""
    win = make_window()
    train, settings = win.pages["train"], win.settings_page
    for note, controls in ((train.sound_note, (train.volume, train.mute)),
                           (settings.sound_note, (settings.volume, settings.muted))):
        assert all(c.isEnabled() == win.sound.available for c in controls)
        if win.sound.available:
            assert note.isHidden()
        else:
            assert not note.isHidden() and note.text() == f"No sound: {win.sound.reason}"
            assert win.sound.reason and "\n" not in win.sound.reason


def _app(*args, timeout=120):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "neurofb", "app", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


def test_neurofb_app_opens_streams_and_closes(tmp_path):
    res = _app("--source", "synthetic", "--data-dir", str(tmp_path), "--quit-after", "4")
    assert res.returncode == 0, res.stderr
    saved = json.loads((tmp_path / "config" / "app-settings.json").read_text())
    assert saved["source"] == "synthetic"


def test_the_window_is_destroyed_before_its_application(qtbot):
    """main() destroys the window while the QApplication lives (Python's frame exit took the
    application first, and widgets destroyed after it segfaulted about one exit in 25)."""
    from PyQt6 import sip
    from PyQt6.QtWidgets import QApplication

    from neurofb_ui.app import destroy_window
    from neurofb_ui.main_window import MainWindow
    from neurofb_ui.settings import AppSettings

    win = MainWindow(AppSettings())
    win.show()
    win.close()
    qtbot.waitUntil(lambda: win.stream.current is None, timeout=10_000)
    destroy_window(QApplication.instance(), win)
    assert sip.isdeleted(win)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (read from /proc: no procps needed)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_crashed_window_process_is_said_not_an_odd_exit_code(tmp_path):
    """The window's process killed by a signal (SIGKILL here, as a crash would): `neurofb app`
    says so and exits 128 + the signal, as a shell would, instead of 256 - signal."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    parent = subprocess.Popen([sys.executable, "-m", "neurofb", "app", "--source", "synthetic",
                               "--data-dir", str(tmp_path), "--quit-after", "60"],
                              stderr=subprocess.PIPE, text=True, env=env)
    try:
        child = None
        deadline = time.monotonic() + 60
        while child is None and time.monotonic() < deadline:
            found = _children(parent.pid)
            child = found[0] if found else None
            time.sleep(0.2)
        assert child is not None, "the app's window process did not start"
        time.sleep(3)  # let it open its window and stream
        os.kill(child, signal.SIGKILL)
        _, err = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 128 + signal.SIGKILL
    assert "the app's process ended by signal SIGKILL; recordings are kept" in err


def test_neurofb_app_bad_source_is_a_clear_error(tmp_path):
    res = _app("--source", str(tmp_path / "nope.edf"), "--data-dir", str(tmp_path))
    assert res.returncode == 2
    assert "no such file" in res.stderr and "Traceback" not in res.stderr


def test_neurofb_app_without_display_says_what_to_do(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("the display check is for Linux")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    res = subprocess.run([sys.executable, "-m", "neurofb", "app", "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60, env=env, check=False)
    assert res.returncode == 2
    assert "no display" in res.stderr and "xvfb-run" in res.stderr


def test_config_dir_is_under_the_private_home():
    assert str(paths.config_dir()).startswith(os.environ["NEUROFB_HOME"])


def test_neurofb_app_takes_every_connection_field_of_the_source_panel(tmp_path):
    """`neurofb app --board playback --file F --master-board cyton` as `neurofb stream` takes
    it: every field the panel has is a flag, and reaches the source the app opens."""
    from neurofb_ui.app import initial_spec, parse_args
    from neurofb_ui.settings import BOARD_FIELDS, AppSettings

    argv = ["--board", "playback"]
    for name in BOARD_FIELDS:
        argv += [f"--{name.replace('_', '-')}", f"v-{name}"]
    spec = initial_spec(parse_args(argv), AppSettings())
    assert (spec.kind, spec.board) == ("board", "playback")
    assert spec.fields == {name: f"v-{name}" for name in BOARD_FIELDS}


@pytest.mark.parametrize(("argv", "words"), [
    (["--serial-port", "/dev/ttyUSB0"], "--serial-port is a board connection field: give "
                                        "--board NAME with it"),
    (["--source", "demo", "--board", "synthetic"], "give --source or --board, not both"),
    (["--quit-after", "inf"], "--quit-after: must be a finite number"),
])
def test_app_options_that_would_be_ignored_are_refused(argv, words, tmp_path):
    """They streamed the last source used, or one of the two sources, without a word; an
    infinite --quit-after was a traceback."""
    res = _app(*argv, "--data-dir", str(tmp_path))
    assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr


def test_restore_defaults_keeps_the_user(qtbot, make_window):
    """It made every user 'me' (filing the next sessions and model under 'me')."""
    from neurofb_ui.settings import AppSettings, load_settings

    win = make_window(user="patient B", reward_rate=0.55)
    page = win.settings_page
    page._reset()
    saved = load_settings()
    assert saved.user == "patient B" and win.settings.user == "patient B"
    assert page.user.text() == "patient B"
    assert saved.reward_rate == AppSettings().reward_rate  # the rest is back to defaults
