"""The paper's read-out at another plan's budget (drc.config.chain_steps, paper_chain), counted by hand."""

from __future__ import annotations

from drc.config import SamplerConfig, chain_steps, paper_chain

CPU = SamplerConfig(steps=60, restarts=3, settle_steps=10, settle="every", step_size=0.2, sigma=0.25, seed=7,
                    batch_size=250)  # fmt: skip


def test_steps_per_image_count_every_restart_and_its_settling():
    assert chain_steps(CPU) == 3 * 60 + 3 * 10  # each of the three chains settles: 210
    kept = SamplerConfig(steps=60, restarts=3, settle_steps=10, settle="kept")
    assert chain_steps(kept) == 3 * 60 + 10  # only the kept chain settles: 190
    assert chain_steps(SamplerConfig(steps=5000)) == 5000  # the paper's: one chain, no settling


def test_the_paper_chain_spends_the_same_steps_as_the_paper_does():
    paper = paper_chain(CPU)
    assert (paper.steps, paper.restarts, paper.settle_steps, paper.init, paper.noise) == (210, 1, 0, "noise", True)
    assert paper.step_size == 0.1  # the paper's s1, not the profile's 0.2
    assert (paper.sigma, paper.seed, paper.batch_size) == (0.25, 7, 250)  # the plan's scale, seed and batching
    assert CPU.steps == 60 and CPU.restarts == 3  # the plan it was given is left as it was
