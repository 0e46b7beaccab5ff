"""Graceful stops: the first signal is acknowledged at once and recorded, a second Ctrl-C aborts (announced)."""

import os
import signal

import pytest

from drc.stopping import stop_requests


def test_the_first_ctrl_c_is_acknowledged_at_once_and_the_second_aborts(capfd):
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), stop_requests() as request:
        os.kill(os.getpid(), signal.SIGINT)
        assert request.signum == signal.SIGINT
        first = capfd.readouterr().err
        assert first.strip() == "Ctrl-C: stopping after this step; Ctrl-C again to abort without a checkpoint"
        os.kill(os.getpid(), signal.SIGINT)
    assert capfd.readouterr().err.strip() == "second Ctrl-C: aborting now, without a checkpoint"
    assert signal.getsignal(signal.SIGINT) is before  # the handlers it found are back


def test_sigterm_is_acknowledged_and_a_later_one_says_nothing_more(capfd):
    with stop_requests() as request:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)
    assert request.signum == signal.SIGTERM
    assert capfd.readouterr().err.strip() == "SIGTERM: stopping after this step"
