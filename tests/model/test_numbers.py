"""DynamoDB numbers: normalisation, range, precision and exact arithmetic."""

from __future__ import annotations

import pytest

from engine.errors import ValidationException
from engine.model import add_numbers, normalize_number, subtract_numbers

MAX = "9.9999999999999999999999999999999999999E+125"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1000", "1000"),
        ("1e3", "1000"),
        ("1E+3", "1000"),
        ("1000.0", "1000"),
        ("01000", "1000"),
        ("-0", "0"),
        ("0.000", "0"),
        ("-0.50", "-0.5"),
        (".5", "0.5"),
        ("1.5e-3", "0.0015"),
        ("1E-130", "0." + "0" * 129 + "1"),
        (MAX, "9" * 38 + "0" * 88),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("1" + "0" * 60, "1" + "0" * 60),  # trailing zeros are not significant
    ],
)
def test_numbers_normalise_as_dynamodb_returns_them(text, canonical):
    assert normalize_number(text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "1E126",
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range",
        ),
        (
            "-1E126",
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range",
        ),
        (
            "1E-131",
            "Number underflow. Attempting to store a number with magnitude smaller than "
            "supported range",
        ),
        (
            "1." + "0" * 37 + "1",
            "Attempting to store more than 38 significant digits in a Number",
        ),
        ("abc", "A value provided cannot be converted into a number"),
        ("", "A value provided cannot be converted into a number"),
        ("NaN", "A value provided cannot be converted into a number"),
        ("Infinity", "A value provided cannot be converted into a number"),
        (" 1", "A value provided cannot be converted into a number"),
        ("1_000", "A value provided cannot be converted into a number"),
    ],
)
def test_invalid_numbers_raise_dynamodbs_message(text, message):
    with pytest.raises(ValidationException) as exc:
        normalize_number(text)
    assert exc.value.message == message


def test_arithmetic_is_exact_at_38_digits_not_python_default_28():
    a = "1234567890123456789012345678901234567"
    assert add_numbers(a, "0.1") == a + ".1"
    assert subtract_numbers("0.3", "0.1") == "0.2"
    assert add_numbers("-5", "5") == "0"


def test_arithmetic_beyond_38_digits_is_a_precision_error():
    with pytest.raises(ValidationException, match="38 significant digits"):
        add_numbers("1" + "0" * 37, "0.1")


def test_arithmetic_overflow():
    with pytest.raises(ValidationException, match="Number overflow"):
        add_numbers(normalize_number(MAX), normalize_number("1E125"))


@pytest.mark.parametrize(
    ("a", "b"),
    [("1", "2"), ("-5", "3"), ("9" * 38, "1"), ("1" + "0" * 120, "1"), ("0", "0"), ("7", "-7")],
)
def test_integer_fast_path_agrees_with_exact_decimal(a, b):
    from decimal import Decimal

    from engine.errors import ValidationException as VE
    from engine.model.numbers import _EXACT, _check

    for fn, op in ((add_numbers, _EXACT.add), (subtract_numbers, _EXACT.subtract)):
        try:
            expected = _check(op(Decimal(a), Decimal(b)))
        except VE as exc:
            with pytest.raises(VE, match=exc.message[:20]):
                fn(a, b)
        else:
            assert fn(a, b) == expected
