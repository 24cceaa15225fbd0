"""DynamoDB numbers: parsing, validation, normalisation and exact arithmetic.

A DynamoDB number is a decimal with at most 38 significant digits and a magnitude of zero or
between 1E-130 and 9.9999999999999999999999999999999999999E+125. Equal numbers are equal however
written (``1000``, ``1e3``, ``1000.0``, ``01000``) and DynamoDB returns them normalised: plain
notation, no exponent, no leading or trailing zeros, no ``-0``. :func:`normalize_number` turns
request text into that canonical text (the only form stored), raising DynamoDB's errors.

Arithmetic (ADD, ``SET a = a + :v``) is exact: the result is computed with enough precision to be
exact over the whole range and then validated like any input, so a result needing 39 significant
digits is DynamoDB's precision error rather than a silent rounding to Python's default 28 digits.
Pure functions; thread-safe.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation

from engine.errors import ValidationException

__all__ = [
    "MAX_EXPONENT",
    "MAX_SIGNIFICANT_DIGITS",
    "MIN_EXPONENT",
    "add_numbers",
    "normalize_number",
    "number_key",
    "subtract_numbers",
]

MAX_SIGNIFICANT_DIGITS = 38
MIN_EXPONENT = -130  # smallest adjusted exponent of a non-zero magnitude
MAX_EXPONENT = 125  # largest adjusted exponent

MSG_NOT_A_NUMBER = "A value provided cannot be converted into a number"
MSG_PRECISION = "Attempting to store more than 38 significant digits in a Number"
MSG_OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
MSG_UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)

# Exact over the whole range: 126 + 130 digits plus headroom for a sum's carry.
_EXACT = Context(prec=400, Emax=10_000, Emin=-10_000)
_ALLOWED = frozenset("0123456789+-.eE")


def _check(d: Decimal) -> str:
    """Validate a finite Decimal and return its canonical text."""
    if not d:
        return "0"
    sign, digits, exp = d.as_tuple()
    # Strip trailing zeros of the coefficient into the exponent.
    n = len(digits)
    while n > 1 and digits[n - 1] == 0:
        n -= 1
        exp += 1
    digits = digits[:n]
    adjusted = exp + n - 1
    if adjusted > MAX_EXPONENT:
        raise ValidationException(MSG_OVERFLOW)
    if adjusted < MIN_EXPONENT:
        raise ValidationException(MSG_UNDERFLOW)
    if n > MAX_SIGNIFICANT_DIGITS:
        raise ValidationException(MSG_PRECISION)
    text = "".join(map(str, digits))
    if exp >= 0:
        text = text + "0" * exp
    elif -exp >= n:
        text = "0." + "0" * (-exp - n) + text
    else:
        text = text[: n + exp] + "." + text[n + exp :]
    return "-" + text if sign else text


def normalize_number(text: str) -> str:
    """Return DynamoDB's canonical text of the number ``text``.

    Raises ValidationException with DynamoDB's message when ``text`` is not a number, has more
    than 38 significant digits, or is outside the supported magnitude range.

    >>> normalize_number("1e3"), normalize_number("-0.50"), normalize_number("01000.0")
    ('1000', '-0.5', '1000')
    """
    if type(text) is not str:
        raise ValidationException(MSG_NOT_A_NUMBER)
    # Fast path: a small integer without a leading zero is already canonical.
    if text.isascii() and text.isdigit() and len(text) <= MAX_SIGNIFICANT_DIGITS and text[0] != "0":
        return text
    if not text or not _ALLOWED.issuperset(text):
        raise ValidationException(MSG_NOT_A_NUMBER)
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValidationException(MSG_NOT_A_NUMBER) from None
    if not d.is_finite():
        raise ValidationException(MSG_NOT_A_NUMBER)
    return _check(d)


def number_key(text: str) -> Decimal:
    """Comparison key of a canonical number (numeric order)."""
    return Decimal(text)


def _int_result(r: int) -> str | None:
    """Canonical text of an integer result when it is valid, else None (let _check decide)."""
    text = str(r)
    magnitude = text.lstrip("-")
    if len(magnitude) <= MAX_SIGNIFICANT_DIGITS:
        return text
    return None


def add_numbers(a: str, b: str) -> str:
    """Exact ``a + b`` of two canonical numbers, validated like an input."""
    if "." not in a and "." not in b:  # canonical integers: exact int arithmetic is faster
        text = _int_result(int(a) + int(b))
        if text is not None:
            return text
    return _check(_EXACT.add(Decimal(a), Decimal(b)))


def subtract_numbers(a: str, b: str) -> str:
    """Exact ``a - b`` of two canonical numbers, validated like an input."""
    if "." not in a and "." not in b:
        text = _int_result(int(a) - int(b))
        if text is not None:
            return text
    return _check(_EXACT.subtract(Decimal(a), Decimal(b)))
