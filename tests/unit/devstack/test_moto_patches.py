"""The base of the local stack's moto adaptations: methods replaced while open, put back on close,
nothing half-patched after a failed install, one adaptation of a kind per process."""

from __future__ import annotations

import moto
import pytest

from cradle_workstation.devstack.moto_patches import MotoPatch

pytestmark = pytest.mark.unit


class Backend:
    def answer(self) -> str:
        return "moto"

    def other(self) -> str:
        return "moto's other"


ORIGINAL_ANSWER, ORIGINAL_OTHER = Backend.answer, Backend.other


class Adapted(MotoPatch):
    refusal = "already adapted"

    def _install(self) -> None:
        original = self.replace(Backend, "answer", lambda backend: "adapted")
        assert original is ORIGINAL_ANSWER
        self.replace(Backend, "other", lambda backend: "adapted too")


class FailsHalfway(MotoPatch):
    def _install(self) -> None:
        self.replace(Backend, "answer", lambda backend: "half")
        raise ValueError("moto changed")


def test_methods_are_replaced_while_open_and_put_back_on_close() -> None:
    with Adapted():
        assert (Backend().answer(), Backend().other()) == ("adapted", "adapted too")
    assert (Backend.answer, Backend.other) == (ORIGINAL_ANSWER, ORIGINAL_OTHER)


def test_a_second_adaptation_of_the_same_kind_is_refused_and_the_first_stays() -> None:
    with Adapted():
        with pytest.raises(RuntimeError, match="already adapted"), Adapted():
            pass
        refused = Adapted()
        with pytest.raises(RuntimeError, match="already adapted"):
            refused.__enter__()
        refused.__exit__(None, None, None)  # closing the refused one undoes nothing of the open one
        assert Backend().answer() == "adapted"
    assert Backend.answer is ORIGINAL_ANSWER
    with Adapted():  # closed: it may be opened again
        assert Backend().answer() == "adapted"


def test_a_failed_install_leaves_nothing_patched_and_can_be_retried() -> None:
    with pytest.raises(ValueError, match="moto changed"), FailsHalfway():
        pass
    assert Backend.answer is ORIGINAL_ANSWER
    with pytest.raises(ValueError, match="moto changed"), FailsHalfway():
        pass  # not left marked as installed


def test_another_moto_version_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    class Versioned(Adapted):
        written_for = "0.0.1"

    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.warns(UserWarning, match="written for moto 0.0.1, not 9.9.9"), Versioned():
        pass
