"""What the FFmpeg binary says about itself is asked once per binary and kept on disk."""

from __future__ import annotations

import os

import pytest

from vproc.io import ffmpeg


@pytest.fixture
def fake_ffmpeg(tmp_path, monkeypatch):
    """A stand-in binary that answers with its arguments and counts how often it ran."""
    calls = tmp_path / "calls"
    script = tmp_path / "ffmpeg"
    script.write_text(f'#!/bin/sh\necho "answer to $*"\necho run >> "{calls}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("VPROC_FFMPEG", str(script))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ffmpeg.ffmpeg_binary.cache_clear()
    yield script, lambda: len(calls.read_text().splitlines()) if calls.exists() else 0
    ffmpeg.ffmpeg_binary.cache_clear()


def test_asked_once_then_read_from_the_cache(fake_ffmpeg):
    script, runs = fake_ffmpeg
    assert ffmpeg.ask("-encoders") == "answer to -hide_banner -encoders\n"
    assert ffmpeg.ask("-encoders") == "answer to -hide_banner -encoders\n"
    assert ffmpeg.ask("-h", "encoder=libx264") == "answer to -hide_banner -h encoder=libx264\n"
    assert runs() == 2  # one question each
    assert ffmpeg.ask("-h", "encoder=libx264").startswith("answer") and runs() == 2


def test_a_changed_binary_is_asked_again(fake_ffmpeg):
    script, runs = fake_ffmpeg
    ffmpeg.ask("-muxers")
    st = script.stat()
    os.utime(script, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # an upgrade in place
    ffmpeg.ask("-muxers")
    assert runs() == 2


def test_an_unwritable_cache_only_means_asking_every_time(fake_ffmpeg, tmp_path, monkeypatch):
    script, runs = fake_ffmpeg
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert ffmpeg.ask("-muxers").startswith("answer")
    assert ffmpeg.ask("-muxers").startswith("answer")
    assert runs() == 2
    assert blocker.read_text() == ""


def test_a_damaged_cache_file_is_asked_afresh(fake_ffmpeg, tmp_path):
    script, runs = fake_ffmpeg
    ffmpeg.ask("-muxers")
    cached = tmp_path / "cache" / "vproc" / "ffmpeg-answers.json"
    cached.write_text("{not json")
    assert ffmpeg.ask("-muxers").startswith("answer") and runs() == 2
    assert ffmpeg.ask("-muxers").startswith("answer") and runs() == 2  # rewritten whole
    assert not [p for p in cached.parent.iterdir() if p.name.startswith(".")]  # no temporary left


def test_the_real_binary_lists_its_encoders_and_muxers():
    ffmpeg.ffmpeg_binary.cache_clear()
    ffmpeg.video_encoders.cache_clear()
    ffmpeg.muxers.cache_clear()
    assert "libx264" in ffmpeg.video_encoders()
    assert {"mp4", "matroska", "nut", "null"} <= ffmpeg.muxers()
