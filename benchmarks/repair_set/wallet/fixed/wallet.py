"""A prepaid wallet: balances in cents, never below zero."""


class InsufficientFundsError(Exception):
    pass


class Wallet:
    def __init__(self, owner: str, balance: int = 0) -> None:
        self.owner = owner
        self.balance = balance

    def deposit(self, amount: int) -> None:
        if amount <= 0:
            raise ValueError("deposits are positive")
        self.balance += amount

    def withdraw(self, amount: int) -> None:
        """Take `amount` out; the whole balance may be spent."""
        if amount <= 0:
            raise ValueError("withdrawals are positive")
        if amount > self.balance:
            raise InsufficientFundsError(f"{self.owner} has {self.balance}, needs {amount}")
        self.balance -= amount

    def transfer(self, other: "Wallet", amount: int) -> None:
        self.withdraw(amount)
        other.deposit(amount)
