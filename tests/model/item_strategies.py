"""Hypothesis strategies for normalised items (what validate_item returns), shared by the
model tests."""

from hypothesis import strategies as st

NAMES = st.text(min_size=1, max_size=8)


def normalised_items(numbers: st.SearchStrategy, *, max_attributes: int) -> st.SearchStrategy:
    """Items of every value type, nested up to a few levels; ``numbers`` draws normalised N
    values (``{"N": text}``)."""
    scalars = st.one_of(
        st.text(max_size=20).map(lambda s: {"S": s}),
        numbers,
        st.binary(max_size=20).map(lambda b: {"B": b}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.sets(st.text(max_size=5), min_size=1, max_size=4).map(lambda s: {"SS": sorted(s)}),
        st.sets(st.binary(max_size=5), min_size=1, max_size=4).map(lambda s: {"BS": sorted(s)}),
    )
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4).map(lambda v: {"L": v}),
            st.dictionaries(NAMES, inner, max_size=4).map(lambda v: {"M": v}),
        ),
        max_leaves=12,
    )
    return st.dictionaries(NAMES, values, max_size=max_attributes)
