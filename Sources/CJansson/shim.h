#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
