from cards import luhn_valid


def test_more_valid_numbers():
    for number in ["5555555555554444", "378282246310005", "6011111111111117", "0000000000000000"]:
        assert luhn_valid(number), number


def test_one_digit_changed_is_invalid():
    assert not luhn_valid("5555555555554445")
    assert not luhn_valid("378282246310006")
