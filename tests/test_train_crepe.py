"""The CREPE fine-tuning recipe runs end to end on a tiny corpus: it trains, writes a
torchcrepe-style state dict with its manifest entry (sha256, recipe, licence of the source
weights), and the weights load back into CrepeNet and differ from the pretrained ones."""

import json
import shutil

import torch

from workstation.inference.manifest import MODELS_DIR
from workstation.inference.models.crepe import CrepeNet
from workstation.inference.weights import sha256_file
from workstation.training.train_crepe import FILE, NAME, main


def test_recipe_runs_and_writes_a_loadable_model(tmp_path):
    shutil.copy(MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    shutil.copy(MODELS_DIR / "crepe_tiny.pth", tmp_path / "crepe_tiny.pth")
    assert main(["--items", "3", "--steps", "3", "--batch", "8", "--threads", "1",
                 "--out", str(tmp_path)]) == 0
    entry = [e for e in json.loads((tmp_path / "manifest.json").read_text()) if e["name"] == NAME][0]
    assert entry["sha256"] == sha256_file(tmp_path / FILE)
    assert "crepe-ft --steps 3" in entry["recipe"] and entry["licence"].startswith("MIT")
    net = CrepeNet("tiny")
    net.load_state_dict(torch.load(tmp_path / FILE, weights_only=True))
    base = torch.load(MODELS_DIR / "crepe_tiny.pth", weights_only=True)
    assert any(not torch.equal(net.state_dict()[k], base[k]) for k in base if "BN" not in k)
    assert all(torch.equal(net.state_dict()[k], base[k]) for k in base if "_BN" in k)  # frozen


def test_distillation_recipe_runs_on_any_music_folders(tmp_path):
    """``crepe-kd`` on two folders of a short recording each: the teacher (CREPE full) labels the
    windows, the student trains and is written with its manifest entry; a folder without audio
    is refused with what to install."""
    import numpy as np
    import pytest
    import soundfile as sf

    from workstation.training import train_crepe_kd as kd

    music = [tmp_path / "music" / "a", tmp_path / "music" / "b"]   # two folders, a file in each
    t = np.arange(3 * 22050) / 22050
    for i, f0 in enumerate((220.0, 330.0)):
        music[i].mkdir(parents=True)
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * 0.2
        sf.write(music[i] / f"take{i}.flac", x.astype(np.float32), 22050)
    out = tmp_path / "models"
    out.mkdir()
    shutil.copy(MODELS_DIR / "manifest.json", out / "manifest.json")
    shutil.copy(MODELS_DIR / "crepe_tiny.pth", out / "crepe_tiny.pth")
    assert kd.main(["--music", *map(str, music), "--windows-per-file", "16", "--steps", "3",
                    "--batch", "8", "--threads", "1", "--out", str(out)]) == 0
    entry = [e for e in json.loads((out / "manifest.json").read_text()) if e["name"] == kd.NAME][0]
    assert entry["sha256"] == sha256_file(out / kd.FILE)
    assert "crepe-kd --steps 3" in entry["recipe"] and f"--music {music[0]} {music[1]}" in entry["recipe"] and entry["licence"].startswith("MIT")
    assert entry["metrics"]["windows"] == 32 and 0.0 < entry["voicing_threshold"] < 1.0
    net = CrepeNet("tiny")
    net.load_state_dict(torch.load(out / kd.FILE, weights_only=True))
    base = torch.load(MODELS_DIR / "crepe_tiny.pth", weights_only=True)
    assert any(not torch.equal(net.state_dict()[k], base[k]) for k in base if "BN" not in k)
    assert all(torch.equal(net.state_dict()[k], base[k]) for k in base if "_BN" in k)
    with pytest.raises(FileNotFoundError, match="wesnoth-music"):
        kd.music_files(tmp_path / "empty")


def test_voicing_threshold_matches_the_base_models_voiced_fraction():
    """The calibration (no labels): a student identical to CREPE tiny gets tiny's own 0.4; a
    student whose peaks are all lower (outputs squared) gets a lower threshold that calls the
    same windows voiced."""
    import numpy as np

    from workstation.inference.weights import load_model
    from workstation.training.train_crepe_kd import voicing_threshold

    rng = np.random.default_rng(0)
    t = np.arange(1024) / 16000
    tones = [sum(np.sin(2 * np.pi * k * f * t) / k for k in range(1, 6)) for f in rng.uniform(100, 800, 48)]
    noise = rng.standard_normal((48, 1024)) * rng.uniform(0.1, 3, (48, 1))
    windows = torch.from_numpy(np.concatenate([np.stack(tones) + noise]).astype(np.float32))
    tiny = load_model("pitch.f0.crepe-tiny")
    assert abs(voicing_threshold(tiny, windows) - 0.4) < 0.05

    class Squared(torch.nn.Module):
        def forward(self, x):
            return tiny(x) ** 2
    low = voicing_threshold(Squared(), windows)
    assert abs(low - 0.16) < 0.05
