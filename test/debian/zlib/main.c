/*
 * A zlib client linked with Debian's libz.a: a generated 256 KiB buffer of
 * pseudo-random words is compressed at several levels with compress2 (zlib
 * format) and with a streaming deflate into a small output buffer (gzip
 * format, with a header), then checksummed with crc32 / adler32 (whole and
 * combined from two halves), decompressed with uncompress and a streaming
 * inflate, and compared with the original. A corrupted stream must be
 * rejected. The compressed bytes depend only on the zlib version and the
 * input, so their sizes and checksums are printed.
 *
 * The exit status counts the checks that failed (0 when all pass).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define SIZE (256 * 1024)

static const char *const WORDS[] = {"linker", "section", "symbol", "relocation", "archive", "member", "segment",
                                    "thunk", "island", "slack", "atom", "patch", "image", "object", "the", "a"};

static int failures;

static void check(int ok, const char *what) {
  printf("%s: %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

/* Deterministic text: words picked by a linear congruential generator, lines of about 70 columns. */
static void fill(unsigned char *buf, size_t n) {
  unsigned seed = 2024;
  size_t i = 0, col = 0;
  while (i < n) {
    seed = seed * 1664525u + 1013904223u;
    const char *w = WORDS[(seed >> 24) % (sizeof WORDS / sizeof WORDS[0])];
    for (; *w && i < n; w++, col++) buf[i++] = (unsigned char)*w;
    if (i < n) buf[i++] = col > 70 ? '\n' : ' ';
    if (col > 70) col = 0;
    else col++;
  }
}

/* Streaming gzip deflate through a 1000-byte output window. */
static size_t gzip_stream(const unsigned char *in, size_t n, unsigned char *out, size_t cap, int *calls) {
  z_stream s;
  memset(&s, 0, sizeof s);
  if (deflateInit2(&s, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
  gz_header head;
  memset(&head, 0, sizeof head);
  head.name = (Bytef *)"generated.txt";
  head.os = 3;
  deflateSetHeader(&s, &head);
  s.next_in = (Bytef *)in;
  s.avail_in = (uInt)n;
  size_t total = 0;
  int rc;
  *calls = 0;
  do {
    unsigned char window[1000];
    s.next_out = window;
    s.avail_out = sizeof window;
    rc = deflate(&s, Z_FINISH);
    size_t got = sizeof window - s.avail_out;
    if (total + got > cap) break;
    memcpy(out + total, window, got);
    total += got;
    (*calls)++;
  } while (rc == Z_OK);
  deflateEnd(&s);
  return rc == Z_STREAM_END ? total : 0;
}

/* Streaming inflate (automatic zlib/gzip detection) through 4096-byte input chunks. */
static size_t inflate_stream(const unsigned char *in, size_t n, unsigned char *out, size_t cap, char *name, size_t name_cap) {
  z_stream s;
  memset(&s, 0, sizeof s);
  if (inflateInit2(&s, 15 + 32) != Z_OK) return 0;
  gz_header head;
  memset(&head, 0, sizeof head);
  head.name = (Bytef *)name;
  head.name_max = (uInt)name_cap;
  inflateGetHeader(&s, &head);
  s.next_out = out;
  s.avail_out = (uInt)cap;
  int rc = Z_OK;
  for (size_t off = 0; off < n && rc == Z_OK; off += 4096) {
    s.next_in = (Bytef *)in + off;
    s.avail_in = (uInt)(n - off < 4096 ? n - off : 4096);
    rc = inflate(&s, Z_NO_FLUSH);
  }
  size_t total = s.total_out;
  inflateEnd(&s);
  return rc == Z_STREAM_END ? total : 0;
}

int main(void) {
  unsigned char *data = malloc(SIZE);
  unsigned char *back = malloc(SIZE);
  uLong cap = compressBound(SIZE);
  unsigned char *packed = malloc(cap);
  if (!data || !back || !packed) return 100;
  fill(data, SIZE);

  printf("zlib %s, input %d bytes, compressBound %lu\n", zlibVersion(), SIZE, (unsigned long)cap);
  uLong crc = crc32(crc32(0L, Z_NULL, 0), data, SIZE);
  uLong adler = adler32(adler32(0L, Z_NULL, 0), data, SIZE);
  printf("crc32 %08lx adler32 %08lx\n", crc, adler);
  uLong crc_a = crc32(0L, data, SIZE / 3), crc_b = crc32(0L, data + SIZE / 3, SIZE - SIZE / 3);
  uLong adler_a = adler32(1L, data, SIZE / 3), adler_b = adler32(1L, data + SIZE / 3, SIZE - SIZE / 3);
  check(crc32_combine(crc_a, crc_b, SIZE - SIZE / 3) == crc, "crc32_combine of two parts");
  check(adler32_combine(adler_a, adler_b, SIZE - SIZE / 3) == adler, "adler32_combine of two parts");

  static const int LEVELS[] = {0, 1, 6, 9};
  for (size_t i = 0; i < sizeof LEVELS / sizeof LEVELS[0]; i++) {
    uLongf len = cap;
    int rc = compress2(packed, &len, data, SIZE, LEVELS[i]);
    uLongf back_len = SIZE;
    memset(back, 0, SIZE);
    int rc2 = uncompress(back, &back_len, packed, len);
    printf("level %d: %lu bytes, crc32 %08lx, adler32 %08lx\n", LEVELS[i], (unsigned long)len, crc32(0L, packed, len),
           adler32(1L, packed, len));
    char what[64];
    snprintf(what, sizeof what, "level %d round trip", LEVELS[i]);
    check(rc == Z_OK && rc2 == Z_OK && back_len == SIZE && memcmp(back, data, SIZE) == 0, what);
  }

  int calls = 0;
  size_t glen = gzip_stream(data, SIZE, packed, cap, &calls);
  printf("gzip stream: %lu bytes in %d deflate calls, magic %02x %02x, crc32 %08lx\n", (unsigned long)glen, calls, packed[0],
         packed[1], crc32(0L, packed, (uInt)glen));
  unsigned trailer_crc = packed[glen - 8] | packed[glen - 7] << 8 | packed[glen - 6] << 16 | (unsigned)packed[glen - 5] << 24;
  unsigned trailer_len = packed[glen - 4] | packed[glen - 3] << 8 | packed[glen - 2] << 16 | (unsigned)packed[glen - 1] << 24;
  check(trailer_crc == crc && trailer_len == SIZE, "gzip trailer holds the crc32 and the length");
  char name[32] = "";
  memset(back, 0, SIZE);
  size_t ilen = inflate_stream(packed, glen, back, SIZE, name, sizeof name);
  printf("inflated %lu bytes, file name '%s'\n", (unsigned long)ilen, name);
  check(ilen == SIZE && memcmp(back, data, SIZE) == 0, "gzip round trip");

  /* Corrupt one byte in the middle of the deflate data: inflate must report an error. */
  packed[glen / 2] ^= 0x55;
  check(inflate_stream(packed, glen, back, SIZE, name, sizeof name) == 0, "corrupted stream rejected");

  free(data);
  free(back);
  free(packed);
  printf("%d checks failed\n", failures);
  return failures;
}
