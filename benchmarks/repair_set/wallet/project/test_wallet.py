import pytest
from wallet import InsufficientFundsError, Wallet


def test_deposit():
    w = Wallet("ana", 100)
    w.deposit(50)
    assert w.balance == 150


def test_withdraw_everything():
    w = Wallet("ana", 100)
    w.withdraw(100)
    assert w.balance == 0


def test_overdraft_refused():
    with pytest.raises(InsufficientFundsError):
        Wallet("ana", 10).withdraw(11)


def test_transfer():
    a, b = Wallet("ana", 100), Wallet("bo")
    a.transfer(b, 40)
    assert (a.balance, b.balance) == (60, 40)
