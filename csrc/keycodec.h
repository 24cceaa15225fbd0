/* Order-preserving encoding of DynamoDB key values (S, N, B) and composite keys, and the item
 * codec's native half.
 * The byte format is specified in engine/codec/keys.py, the pure-Python twin that is the oracle
 * in property tests; this file must agree with it byte for byte. */
#ifndef SHALE_KEYCODEC_H
#define SHALE_KEYCODEC_H

#include <stddef.h>
#include <stdint.h>

/* Largest encoding of a number (tag, exponent, 38 digits + terminator as nibbles). */
#define SHALE_KEY_NUMBER_MAX 22
/* Room for the canonical text of any DynamoDB number ("-0." + 129 zeros + 38 digits). */
#define SHALE_KEY_NUMBER_TEXT_MAX 176

/* S or B: escape 0x00 as 0x00 0xFF and append 0x00 0x01. REQUIRES: out holds 2*n+2 bytes.
 * Returns the encoded length. */
size_t shale_key_encode_bytes(const uint8_t *src, size_t n, uint8_t *out);

/* N from canonical text (engine.model.numbers). REQUIRES: out holds SHALE_KEY_NUMBER_MAX bytes.
 * Returns the encoded length, or -1 if the text is not a number in DynamoDB's range. */
int shale_key_encode_number(const char *text, size_t n, uint8_t *out);

/* Decode an S/B encoding at src[0..n). REQUIRES: out holds n bytes. Returns the number of
 * bytes consumed (and sets *out_len), or -1 if malformed. */
int64_t shale_key_decode_bytes(const uint8_t *src, size_t n, uint8_t *out, size_t *out_len);

/* Decode an N encoding into canonical text. REQUIRES: out holds SHALE_KEY_NUMBER_TEXT_MAX
 * bytes. Returns the number of bytes consumed (and sets *out_len), or -1 if malformed. */
int64_t shale_key_decode_number(const uint8_t *src, size_t n, char *out, size_t *out_len);

/* fmix32(crc32(src)): the partition hash (zlib's CRC-32, murmur3's finaliser). */
uint32_t shale_key_hash(const uint8_t *src, size_t n);

/* hash prefix (u32 BE) | enc(pk) [| enc(sk)]. Tags are 'S', 'N', 'B' (sk_tag 0: no sort key);
 * N values are canonical text. REQUIRES: out holds 4 + 2*pkn + 2 + max(2*skn + 2,
 * SHALE_KEY_NUMBER_MAX) bytes. Returns the length, or -1 on a bad tag or number. */
int64_t shale_key_encode_primary(int pk_tag, const uint8_t *pk, size_t pkn, int sk_tag,
                                 const uint8_t *sk, size_t skn, uint8_t *out);

/* CPython entry points of the key codec: returns a new reference to the tuple
 * (encode_key_value, encode_primary_key, decode_key_value, index_entries,
 * index_keys_plausible, table_key) of CPython
 * functions, as a void pointer because cffi declarations cannot name PyObject. Called once
 * at import; takes the GIL itself. Calls to these functions bypass cffi, which is what keeps
 * a key encode well under a microsecond. index_entries stages the entries of a new item in
 * the indexes keyed like tables, index_keys_plausible is the quick test of an item's index
 * key values, table_key a table key validated and encoded at once (see their comments in
 * keycodec.c). */
void *shale_codec_functions(void);

#endif
