#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* A value's exact form, for a cache key (seccomp-warden's verdict cache compares it byte for byte):
   a type letter, then counts, lengths and raw bytes. Injective: two values have the same form only
   when they are the same tree with keys in the same order. jansson's dump would escape, check and
   format every string, which was a third of a warm hook. */
typedef struct { unsigned char *data; size_t len, cap; } sw_json_form;

static inline int sw_json_form_put(sw_json_form *f, const void *p, size_t n) {
    if (f->cap - f->len < n) {
        size_t cap = f->cap ? f->cap : 4096;
        while (cap - f->len < n) cap *= 2;
        unsigned char *d = realloc(f->data, cap);
        if (!d) return -1;
        f->data = d;
        f->cap = cap;
    }
    memcpy(f->data + f->len, p, n);
    f->len += n;
    return 0;
}

static inline int sw_json_form_tag(sw_json_form *f, char tag, uint64_t n) {
    unsigned char b[9];
    b[0] = (unsigned char)tag;
    memcpy(b + 1, &n, 8);
    return sw_json_form_put(f, b, 9);
}

/* Appends the form of `v` to `f`; 0, or -1 when memory runs out (f->data is the caller's to free). */
static inline int sw_json_form_append(sw_json_form *f, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (sw_json_form_tag(f, 'o', json_object_size(v))) return -1;
        for (void *it = json_object_iter((json_t *)v); it; it = json_object_iter_next((json_t *)v, it)) {
            size_t n = json_object_iter_key_len(it);
            if (sw_json_form_tag(f, 'k', n) || sw_json_form_put(f, json_object_iter_key(it), n)) return -1;
            if (sw_json_form_append(f, json_object_iter_value(it))) return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (sw_json_form_tag(f, 'a', n)) return -1;
        for (size_t i = 0; i < n; i++)
            if (sw_json_form_append(f, json_array_get(v, i))) return -1;
        return 0;
    }
    case JSON_STRING: {
        size_t n = json_string_length(v);
        return sw_json_form_tag(f, 's', n) || sw_json_form_put(f, json_string_value(v), n) ? -1 : 0;
    }
    case JSON_INTEGER: return sw_json_form_tag(f, 'i', (uint64_t)json_integer_value(v));
    case JSON_REAL: {
        double d = json_real_value(v);
        uint64_t bits;
        memcpy(&bits, &d, 8);
        return sw_json_form_tag(f, 'r', bits);
    }
    case JSON_TRUE: return sw_json_form_tag(f, 't', 0);
    case JSON_FALSE: return sw_json_form_tag(f, 'f', 0);
    default: return sw_json_form_tag(f, 'n', 0);
    }
}

/* Reading a few members of a large document without parsing the rest (runc's state.json: some 30 KB,
   most of it the container's config, of which the verifier needs four values). These find where a
   value is; the values found are then parsed by jansson. They do not check what they skip as jansson
   would: a caller uses them only where the document's writer is trusted (root's runtime state). */

static inline size_t sw_json_ws(const char *s, size_t n, size_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

/* Byte classes for sw_json_skip between values: one table lookup per byte instead of a chain of
   compares (the scan of runc's 30 KB state was 0.5 M instructions of a warm verify, issue 14):
   2 quote, 3 open, 4 close, 5 separator or white space, 6 part of a number or literal, 0 anything else. */
static const unsigned char sw_json_token[256] = {
    ['"'] = 2, ['{'] = 3, ['['] = 3, ['}'] = 4, [']'] = 4,
    [','] = 5, [':'] = 5, [' '] = 5, ['\t'] = 5, ['\n'] = 5, ['\r'] = 5,
    ['0' ... '9'] = 6, ['a' ... 'z'] = 6, ['-'] = 6, ['+'] = 6, ['.'] = 6, ['E'] = 6,
};

/* The first index from i on (or n) of a byte a string's scan must look at: a quote, a backslash, a
   control byte and, with `ascii`, a byte of 0x80 or more. Sixteen bytes at a time where SSE2 is (every
   x86-64): a string's bytes are most of a document, and one table lookup per byte was most of a scan. */
static inline size_t sw_json_plain_run(const unsigned char *u, size_t n, size_t i, int ascii) {
#if defined(__SSE2__)
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1f);
    while (n - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(u + i));
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
        hit = _mm_or_si128(hit, _mm_cmpeq_epi8(_mm_min_epu8(v, control), v)); /* v <= 0x1f, unsigned */
        int mask = _mm_movemask_epi8(hit) | (ascii ? _mm_movemask_epi8(v) : 0);
        if (mask) return i + (size_t)__builtin_ctz((unsigned)mask);
        i += 16;
    }
#endif
    while (i < n && u[i] >= 0x20 && u[i] != '"' && u[i] != '\\' && (!ascii || u[i] < 0x80)) i++;
    return i;
}

/* The end of the value that starts at s[i], or (size_t)-1. Brackets must match, strings must end. */
static inline size_t sw_json_skip(const char *s, size_t n, size_t i) {
    char stack[2048]; /* jansson's own depth limit */
    size_t depth = 0;
    const unsigned char *u = (const unsigned char *)s;
    do {
        if (i >= n) return (size_t)-1;
        switch (sw_json_token[u[i]]) {
        case 2:
            i++;
            for (;;) {
                i = sw_json_plain_run(u, n, i, 0);
                if (i >= n || u[i] < 0x20) return (size_t)-1;
                if (u[i] == '"') break;
                i += 2; /* a backslash and the byte it escapes */
            }
            i++;
            break;
        case 3:
            if (depth == sizeof stack) return (size_t)-1;
            stack[depth++] = u[i] == '{' ? '}' : ']';
            i++;
            break;
        case 4:
            if (depth == 0 || stack[depth - 1] != s[i]) return (size_t)-1;
            depth--;
            i++;
            break;
        case 5:
            if (depth == 0) return (size_t)-1;
            i++;
            break;
        case 6:
            while (i < n && sw_json_token[u[i]] == 6) i++;
            break;
        default:
            return (size_t)-1;
        }
    } while (depth > 0);
    return i;
}

/* The object at s[i...] (white space first), up to n: the index just past its '}', or (size_t)-1 when
   that cannot be told without a full parse (malformed, a key written with an escape, one of `keys`
   twice: jansson, told to reject duplicates, would refuse the document). Each of `keys[0..<count]`
   found has its value at [vs[j], ve[j]) ((size_t)-1 in both for an absent one). The value of the
   member named `inner` (if not NULL) must be an object, and is read the same way for `ikeys` into
   ivs/ive in the same pass instead of being skipped (runc's config: most of the bytes). */
static inline size_t sw_json_object(const char *s, size_t n, size_t i, const char *const *keys, size_t count,
                                    size_t *vs, size_t *ve, const char *inner, const char *const *ikeys,
                                    size_t icount, size_t *ivs, size_t *ive) {
    for (size_t j = 0; j < count; j++) vs[j] = ve[j] = (size_t)-1;
    i = sw_json_ws(s, n, i);
    if (i >= n || s[i] != '{') return (size_t)-1;
    i = sw_json_ws(s, n, i + 1);
    if (i < n && s[i] == '}') return i + 1;
    int innerSeen = 0;
    for (;;) {
        if (i >= n || s[i] != '"') return (size_t)-1;
        size_t k = ++i;
        while (i < n && s[i] != '"') {
            if (s[i] == '\\' || (unsigned char)s[i] < 0x20) return (size_t)-1;
            i++;
        }
        if (i >= n) return (size_t)-1;
        size_t kl = i - k;
        i = sw_json_ws(s, n, i + 1);
        if (i >= n || s[i] != ':') return (size_t)-1;
        i = sw_json_ws(s, n, i + 1);
        size_t e;
        if (inner && strlen(inner) == kl && memcmp(s + k, inner, kl) == 0) {
            if (innerSeen++ || i >= n || s[i] != '{') return (size_t)-1;
            e = sw_json_object(s, n, i, ikeys, icount, ivs, ive, NULL, NULL, 0, NULL, NULL);
        } else {
            e = sw_json_skip(s, n, i);
        }
        if (e == (size_t)-1) return (size_t)-1;
        for (size_t j = 0; j < count; j++) {
            if (strlen(keys[j]) != kl || memcmp(s + k, keys[j], kl) != 0) continue;
            if (vs[j] != (size_t)-1) return (size_t)-1;
            vs[j] = i;
            ve[j] = e;
        }
        i = sw_json_ws(s, n, e);
        if (i < n && s[i] == ',') { i = sw_json_ws(s, n, i + 1); continue; }
        if (i < n && s[i] == '}') return i + 1;
        return (size_t)-1;
    }
}

/* The members `keys[0..<count]` of the object at s[at...] (which ends before n), as sw_json_object:
   0, or -1 when that cannot be told without a full parse. `whole`: the object is the whole document
   (nothing but white space may follow it). */
static inline int sw_json_members(const char *s, size_t n, size_t at, const char *const *keys, size_t count, int whole,
                                  size_t *vs, size_t *ve) {
    size_t e = sw_json_object(s, n, at, keys, count, vs, ve, NULL, NULL, 0, NULL, NULL);
    if (e == (size_t)-1 || (whole && sw_json_ws(s, n, e) != n)) return -1;
    return 0;
}

/* runc's state.json: where init_process_pid, init_process_start, cgroup_paths and config.labels are
   (vs[0..<4], ve[0..<4]; (size_t)-1 for an absent one); 0, or -1 as sw_json_members (a config that is
   not an object is -1 too: the full parse then reads it as before). One pass: the config's members
   are read as the top level's are, not skipped first and read again. */
static inline int sw_runc_state_members(const char *s, size_t n, size_t *vs, size_t *ve) {
    static const char *const top[] = {"init_process_pid", "init_process_start", "cgroup_paths"};
    static const char *const config[] = {"labels"};
    vs[3] = ve[3] = (size_t)-1;
    size_t e = sw_json_object(s, n, 0, top, 3, vs, ve, "config", config, 1, vs + 3, ve + 3);
    if (e == (size_t)-1 || sw_json_ws(s, n, e) != n) return -1;
    return 0;
}

/* config.json for a warm gate (issue 14): jansson's parse of a 13 KB config is three quarters of the
   gate's instructions, while a cache hit needs only three members. sw_config_index checks the whole
   document and finds annotations, linux.seccomp and process.capabilities.bounding (out[0..<6]: start
   and end of each value, (size_t)-1 for an absent one). 0 only for a document jansson would read as
   JSONDocument asks (duplicates and NUL refused) to the same tree; -1 for anything it cannot vouch
   for, and the caller then parses it with jansson, whose answer (a tree or the error) stands. It vouches
   for less than jansson accepts: ASCII only, no escape in a key, integers of at most 18 digits, no
   fraction or exponent, objects of at most 64 keys, nesting of at most 64 levels. Like checkSeccompKeys,
   it refuses a key on the way to those members that only differs from it in case (Go's JSON, runc's
   reader, ignores case), and a linux that is neither an object nor null. */
enum { SW_CFG_OTHER, SW_CFG_ROOT, SW_CFG_LINUX, SW_CFG_PROCESS, SW_CFG_CAPS };
#define SW_CFG_FAIL ((size_t)-1)

typedef struct { const unsigned char *s; size_t n; size_t *out; } sw_cfg;

static inline int sw_cfg_hex(unsigned char b) {
    if (b >= '0' && b <= '9') return b - '0';
    if (b >= 'a' && b <= 'f') return b - 'a' + 10;
    if (b >= 'A' && b <= 'F') return b - 'A' + 10;
    return -1;
}

/* The string at s[i] (a quote): the index past its closing quote. A key may hold no escape (jansson
   compares keys decoded; bytes are then the same thing). \u0000 and surrogates are left to jansson. */
static inline size_t sw_cfg_string(const sw_cfg *c, size_t i, int key) {
    const unsigned char *s = c->s;
    size_t n = c->n;
    i++;
    for (;;) {
        i = sw_json_plain_run(s, n, i, 1);
        if (i >= n) return SW_CFG_FAIL;
        if (s[i] == '"') return i + 1;
        if (s[i] != '\\' || key || i + 1 >= n) return SW_CFG_FAIL;
        unsigned char e = s[i + 1];
        if (e == 'u') {
            if (n - i < 6) return SW_CFG_FAIL;
            int v = 0;
            for (int k = 2; k < 6; k++) {
                int h = sw_cfg_hex(s[i + k]);
                if (h < 0) return SW_CFG_FAIL;
                v = v * 16 + h;
            }
            if (v == 0 || (v >= 0xd800 && v <= 0xdfff)) return SW_CFG_FAIL;
            i += 6;
        } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            i += 2;
        } else {
            return SW_CFG_FAIL;
        }
    }
}

/* 1 when key (len bytes) is `name` in another case: a key runc reads as `name` and jansson does not. */
static inline int sw_cfg_variant(const unsigned char *key, size_t len, const char *name) {
    size_t l = strlen(name);
    if (len != l || memcmp(key, name, l) == 0) return 0;
    for (size_t k = 0; k < l; k++) {
        unsigned char a = key[k], b = (unsigned char)name[k];
        if (a >= 'A' && a <= 'Z') a += 32;
        if (a != b) return 0;
    }
    return 1;
}

static inline size_t sw_cfg_value(const sw_cfg *c, size_t i, int role, int depth);

static inline size_t sw_cfg_object(const sw_cfg *c, size_t i, int role, int depth) {
    const unsigned char *s = c->s;
    size_t n = c->n, ks[64], kl[64];
    int count = 0;
    i = sw_json_ws((const char *)s, n, i + 1);
    if (i < n && s[i] == '}') return i + 1;
    for (;;) {
        if (i >= n || s[i] != '"') return SW_CFG_FAIL;
        size_t k = i + 1, e = sw_cfg_string(c, i, 1);
        if (e == SW_CFG_FAIL || count == 64) return SW_CFG_FAIL;
        size_t len = e - 1 - k;
        for (int j = 0; j < count; j++)
            if (kl[j] == len && memcmp(s + ks[j], s + k, len) == 0) return SW_CFG_FAIL; /* a duplicate */
        ks[count] = k;
        kl[count++] = len;
        i = sw_json_ws((const char *)s, n, e);
        if (i >= n || s[i] != ':') return SW_CFG_FAIL;
        i = sw_json_ws((const char *)s, n, i + 1);
        const unsigned char *key = s + k;
        int child = SW_CFG_OTHER, slot = -1;
#define SW_CFG_IS(name) (len == sizeof(name) - 1 && memcmp(key, name, len) == 0)
        switch (role) {
        case SW_CFG_ROOT:
            if (sw_cfg_variant(key, len, "linux") || sw_cfg_variant(key, len, "process")) return SW_CFG_FAIL;
            if (SW_CFG_IS("linux")) child = SW_CFG_LINUX;
            else if (SW_CFG_IS("process")) child = SW_CFG_PROCESS;
            else if (SW_CFG_IS("annotations")) slot = 0;
            break;
        case SW_CFG_LINUX:
            if (sw_cfg_variant(key, len, "seccomp")) return SW_CFG_FAIL;
            if (SW_CFG_IS("seccomp")) slot = 1;
            break;
        case SW_CFG_PROCESS:
            if (sw_cfg_variant(key, len, "capabilities")) return SW_CFG_FAIL;
            if (SW_CFG_IS("capabilities")) child = SW_CFG_CAPS;
            break;
        case SW_CFG_CAPS:
            if (sw_cfg_variant(key, len, "bounding")) return SW_CFG_FAIL;
            if (SW_CFG_IS("bounding")) slot = 2;
            break;
        }
#undef SW_CFG_IS
        size_t ve = sw_cfg_value(c, i, child, depth + 1);
        if (ve == SW_CFG_FAIL) return SW_CFG_FAIL;
        if (slot >= 0) {
            c->out[2 * slot] = i;
            c->out[2 * slot + 1] = ve;
        }
        i = sw_json_ws((const char *)s, n, ve);
        if (i < n && s[i] == ',') {
            i = sw_json_ws((const char *)s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}') return i + 1;
        return SW_CFG_FAIL;
    }
}

/* The value at s[i]: the index past it. `role`: which member's value it is (the path to a member read). */
static inline size_t sw_cfg_value(const sw_cfg *c, size_t i, int role, int depth) {
    const unsigned char *s = c->s;
    size_t n = c->n;
    if (i >= n || depth > 64) return SW_CFG_FAIL;
    unsigned char b = s[i];
    /* linux must be an object or null (VerdictCache.input: any other is an error, never a key). */
    if (role == SW_CFG_LINUX && b != '{' && b != 'n') return SW_CFG_FAIL;
    if (b == '{') return sw_cfg_object(c, i, role, depth);
    if (role != SW_CFG_PROCESS && role != SW_CFG_CAPS) role = SW_CFG_OTHER;
    if (b == '[') {
        i = sw_json_ws((const char *)s, n, i + 1);
        if (i < n && s[i] == ']') return i + 1;
        for (;;) {
            size_t e = sw_cfg_value(c, i, SW_CFG_OTHER, depth + 1);
            if (e == SW_CFG_FAIL) return SW_CFG_FAIL;
            i = sw_json_ws((const char *)s, n, e);
            if (i < n && s[i] == ',') {
                i = sw_json_ws((const char *)s, n, i + 1);
                continue;
            }
            if (i < n && s[i] == ']') return i + 1;
            return SW_CFG_FAIL;
        }
    }
    if (b == '"') return sw_cfg_string(c, i, 0);
    if (b == '-' || (b >= '0' && b <= '9')) {
        if (b == '-') i++;
        size_t d = i;
        if (i < n && s[i] == '0') i++;
        else while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == d || i - d > 18) return SW_CFG_FAIL;
        /* A fraction or an exponent (a real, whose range jansson checks), or a digit after a 0. */
        if (i < n && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || (s[i] >= '0' && s[i] <= '9'))) return SW_CFG_FAIL;
        return i;
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        size_t l = strlen(words[w]);
        if (n - i >= l && memcmp(s + i, words[w], l) == 0) {
            i += l;
            /* jansson reads a run of letters as one word: "nullx" is no null. */
            if (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) return SW_CFG_FAIL;
            if (role == SW_CFG_LINUX && w != 2) return SW_CFG_FAIL;
            return i;
        }
    }
    return SW_CFG_FAIL;
}

static inline int sw_config_index(const char *s, size_t n, size_t *out) {
    for (int k = 0; k < 6; k++) out[k] = SW_CFG_FAIL;
    sw_cfg c = {(const unsigned char *)s, n, out};
    size_t i = sw_json_ws(s, n, 0);
    if (i >= n || s[i] != '{') return -1;
    size_t e = sw_cfg_object(&c, i, SW_CFG_ROOT, 1);
    if (e == SW_CFG_FAIL || sw_json_ws(s, n, e) != n) return -1;
    return 0;
}
