/* The model layer's hot paths in C: the item codec (format 1, docs/FORMAT.md "Item codec"),
 * the table base value (docs/FORMAT.md "Table base value"), item validation and item size.
 * Specifications: the pure-Python twins in engine/model (itemcodec.py, values.py, size.py),
 * the oracles of the property tests in tests/model. */
#ifndef SHALE_ITEMCODEC_H
#define SHALE_ITEMCODEC_H

/* Returns a new reference to the tuple (configure, encode_item, decode_item, encode_value,
 * decode_value, validate_item, item_size, validate_sized_item, decode_page) of CPython
 * functions, as a void pointer because cffi declarations cannot name PyObject; NULL (with a
 * Python error set) on failure. Called once at import by engine/codec/native_items.py; takes
 * the GIL itself. Calls to the functions bypass cffi. The contracts are in engine/model. */
void *shale_item_functions(void);

#endif
