import pytest
from wallet import InsufficientFundsError, Wallet


def test_transfer_whole_balance():
    a, b = Wallet("ana", 70), Wallet("bo", 5)
    a.transfer(b, 70)
    assert (a.balance, b.balance) == (0, 75)


def test_failed_transfer_changes_nothing():
    a, b = Wallet("ana", 10), Wallet("bo", 0)
    with pytest.raises(InsufficientFundsError):
        a.transfer(b, 20)
    assert (a.balance, b.balance) == (10, 0)


def test_non_positive_amounts():
    with pytest.raises(ValueError):
        Wallet("ana").deposit(0)
    with pytest.raises(ValueError):
        Wallet("ana", 5).withdraw(-1)
