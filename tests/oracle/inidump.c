/* inidump.c - ask the Windows profile API (kernel32) what it sees in one INI file.
 *
 * The oracle of tests/integration/oracle.rs: under Wine (CI) or on Windows it answers with the
 * real GetPrivateProfile*W functions, and the test compares that answer with our engine's view.
 * See tests/oracle/README.md for the output formats and for what the oracle may be asked.
 *
 * Build (ci/windows-test.sh does it):
 *   x86_64-w64-mingw32-gcc -municode -O2 -Wall -Wextra -s -o inidump.exe inidump.c
 * Usage (paths as Windows sees them; under Wine an absolute Unix path like /tmp/x.ini also works,
 * it is taken as Z:\tmp\x.ini; a bare file name would be looked up in C:\windows):
 *   inidump json FILE                       the API's view as JSON lines (machine-readable)
 *   inidump dump FILE                       the same for humans: sections, raw lines, key=value
 *   inidump get  FILE SECTION KEY [DEFAULT] one GetPrivateProfileStringW lookup
 *   inidump set  FILE SECTION KEY VALUE     WritePrivateProfileStringW; KEY or VALUE
 *                                           may be --null (delete section / key)
 * Output is UTF-8. `dump` and `get` print every string in double quotes with \\, \" and control
 * characters escaped (\r \n \t \uXXXX) so blanks are visible. Exit status: 0 done, 2 usage,
 * 3 FILE does not exist (an absent file reads as empty, which could hide a wrong path).
 */
#include <windows.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* Returned by lookups of keys that are not there; no real value contains U+0001. */
static const wchar_t ABSENT[] = L"\x0001<<absent>>";

static void out_bytes(const char *s, DWORD n)
{
    DWORD w;
    HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
    while (n > 0) {
        if (!WriteFile(h, s, n, &w, NULL) || w == 0) ExitProcess(4);
        s += w;
        n -= w;
    }
}

static void out_a(const char *s) { out_bytes(s, (DWORD)strlen(s)); }

static void out_w(const wchar_t *s, int n) /* raw UTF-16 -> UTF-8 */
{
    if (n < 0) n = (int)wcslen(s);
    if (n == 0) return;
    int need = WideCharToMultiByte(CP_UTF8, 0, s, n, NULL, 0, NULL, NULL);
    char *buf = malloc(need);
    if (!buf) ExitProcess(4);
    WideCharToMultiByte(CP_UTF8, 0, s, n, buf, need, NULL, NULL);
    out_bytes(buf, (DWORD)need);
    free(buf);
}

static void out_hex4(unsigned c)
{
    static const char hx[] = "0123456789ABCDEF";
    char esc[6] = { '\\', 'u', 0, 0, 0, 0 };
    for (int i = 0; i < 4; i++) esc[2 + i] = hx[(c >> (12 - 4 * i)) & 15];
    out_bytes(esc, 6);
}

/* A string in double quotes. json != 0: JSON string syntax (control characters as \uXXXX,
 * everything else raw UTF-8); json == 0: human form (C1 controls, BOM and U+FFFD escaped too).
 * A lone surrogate is printed as \uXXXX in both forms (a JSON parser will refuse it: good, the
 * comparison must not pass on a value nobody can represent). */
static void out_str(const wchar_t *s, int json)
{
    out_a("\"");
    for (; *s; s++) {
        wchar_t c = *s;
        if (c == L'\\') out_a("\\\\");
        else if (c == L'"') out_a("\\\"");
        else if (c == L'\r') out_a("\\r");
        else if (c == L'\n') out_a("\\n");
        else if (c == L'\t') out_a("\\t");
        else if (c < 0x20 || (!json && ((c >= 0x7f && c <= 0x9f) || c == 0xfeff || c == 0xfffd)))
            out_hex4(c);
        else if (c >= 0xd800 && c <= 0xdbff && s[1] >= 0xdc00 && s[1] <= 0xdfff) {
            out_w(s, 2);
            s++;
        } else if (c >= 0xd800 && c <= 0xdfff) out_hex4(c);
        else out_w(&c, 1);
    }
    out_a("\"");
}

static void out_q(const wchar_t *s) { out_str(s, 0); }
static void out_j(const wchar_t *s) { out_str(s, 1); }

static void out_u(unsigned long v)
{
    char b[24], *p = b + sizeof b;
    do { *--p = (char)('0' + v % 10); v /= 10; } while (v);
    out_bytes(p, (DWORD)(b + sizeof b - p));
}

/* Calls that fill a double-NUL-terminated list return size-2 when truncated. */
typedef DWORD (*list_fn)(const wchar_t *sec, wchar_t *buf, DWORD size, const wchar_t *file);

static DWORD f_names(const wchar_t *sec, wchar_t *buf, DWORD size, const wchar_t *file)
{ (void)sec; return GetPrivateProfileSectionNamesW(buf, size, file); }
static DWORD f_section(const wchar_t *sec, wchar_t *buf, DWORD size, const wchar_t *file)
{ return GetPrivateProfileSectionW(sec, buf, size, file); }
static DWORD f_keys(const wchar_t *sec, wchar_t *buf, DWORD size, const wchar_t *file)
{ return GetPrivateProfileStringW(sec, NULL, L"", buf, size, file); }

static wchar_t *xcalloc(DWORD n)
{
    wchar_t *p = calloc(n, sizeof(wchar_t));
    if (!p) ExitProcess(4);
    return p;
}

static wchar_t *get_list(list_fn fn, const wchar_t *sec, const wchar_t *file)
{
    DWORD size = 256;
    for (;;) {
        wchar_t *buf = xcalloc(size + 2); /* +2: always double-NUL terminated for our walkers */
        DWORD n = fn(sec, buf, size, file);
        if (n < size - 2) return buf;
        free(buf);
        size *= 4;
    }
}

static wchar_t *get_string(const wchar_t *sec, const wchar_t *key, const wchar_t *def,
                           const wchar_t *file, DWORD *len)
{
    DWORD size = 256;
    for (;;) {
        wchar_t *buf = xcalloc(size + 2);
        DWORD n = GetPrivateProfileStringW(sec, key, def, buf, size, file);
        /* truncation: size-1 for a value, size-2 for a key list (key == NULL) */
        if (n < (key ? size - 1 : size - 2)) { *len = n; return buf; }
        free(buf);
        size *= 4;
    }
}

static int file_missing(const wchar_t *file)
{
    if (GetFileAttributesW(file) != INVALID_FILE_ATTRIBUTES) return 0;
    out_a("inidump: no such file: "); out_q(file); out_a("\n");
    return 1;
}

static int dump(const wchar_t *file)
{
    if (file_missing(file)) return 3;
    out_a("file: "); out_q(file); out_a("\n");
    out_a("acp: "); out_u(GetACP()); out_a("\n");
    wchar_t *names = get_list(f_names, NULL, file);
    out_a("sections:");
    for (wchar_t *s = names; *s; s += wcslen(s) + 1) { out_a(" "); out_q(s); }
    out_a("\n");
    for (wchar_t *s = names; *s; s += wcslen(s) + 1) {
        out_a("["); out_q(s); out_a("]\n");
        wchar_t *lines = get_list(f_section, s, file);
        for (wchar_t *l = lines; *l; l += wcslen(l) + 1) { out_a("  line "); out_q(l); out_a("\n"); }
        wchar_t *keys = get_list(f_keys, s, file);
        for (wchar_t *k = keys; *k; k += wcslen(k) + 1) {
            DWORD vl;
            wchar_t *v = get_string(s, k, L"<<default>>", file, &vl);
            out_a("  get "); out_q(k); out_a(" = "); out_q(v); out_a("\n");
            free(v);
        }
        free(lines);
        free(keys);
    }
    free(names);
    return 0;
}

/* JSON lines, one object per line, in this order:
 *   {"type":"file","path":P,"acp":N}
 *   per name of GetPrivateProfileSectionNamesW, in its order (duplicates included):
 *     {"type":"section","name":S}
 *     {"type":"line","text":T}           per line of GetPrivateProfileSectionW(S)
 *     {"type":"key","name":K,"value":V}  per key of GetPrivateProfileStringW(S, NULL), in its
 *                                        order (duplicates included); V is what
 *                                        GetPrivateProfileStringW(S, K) returns, null if absent
 *   {"type":"end"}                       the answer is complete
 */
static int json(const wchar_t *file)
{
    if (file_missing(file)) return 3;
    out_a("{\"type\":\"file\",\"path\":"); out_j(file);
    out_a(",\"acp\":"); out_u(GetACP()); out_a("}\n");
    wchar_t *names = get_list(f_names, NULL, file);
    for (wchar_t *s = names; *s; s += wcslen(s) + 1) {
        out_a("{\"type\":\"section\",\"name\":"); out_j(s); out_a("}\n");
        wchar_t *lines = get_list(f_section, s, file);
        for (wchar_t *l = lines; *l; l += wcslen(l) + 1) {
            out_a("{\"type\":\"line\",\"text\":"); out_j(l); out_a("}\n");
        }
        wchar_t *keys = get_list(f_keys, s, file);
        for (wchar_t *k = keys; *k; k += wcslen(k) + 1) {
            DWORD vl;
            wchar_t *v = get_string(s, k, ABSENT, file, &vl);
            out_a("{\"type\":\"key\",\"name\":"); out_j(k); out_a(",\"value\":");
            if (wcscmp(v, ABSENT) == 0) out_a("null");
            else out_j(v);
            out_a("}\n");
            free(v);
        }
        free(lines);
        free(keys);
    }
    free(names);
    out_a("{\"type\":\"end\"}\n");
    return 0;
}

static const wchar_t *nullable(const wchar_t *a) { return wcscmp(a, L"--null") ? a : NULL; }

int wmain(int argc, wchar_t **argv)
{
    if (argc == 3 && !wcscmp(argv[1], L"json")) return json(argv[2]);
    if (argc == 3 && !wcscmp(argv[1], L"dump")) return dump(argv[2]);
    if ((argc == 5 || argc == 6) && !wcscmp(argv[1], L"get")) {
        DWORD n;
        wchar_t *v = get_string(nullable(argv[3]), nullable(argv[4]),
                                argc == 6 ? argv[5] : L"<<default>>", argv[2], &n);
        out_a("get ["); out_q(argv[3]); out_a("] "); out_q(argv[4]); out_a(" = ");
        /* with SECTION or KEY = --null the result is a NUL-separated list */
        for (wchar_t *p = v; ; p += wcslen(p) + 1) {
            out_q(p);
            if (!p[0] || !p[wcslen(p) + 1]) break;
            out_a(",");
        }
        out_a(" (ret "); out_u(n); out_a(")\n");
        free(v);
        return 0;
    }
    if (argc == 6 && !wcscmp(argv[1], L"set")) {
        BOOL ok = WritePrivateProfileStringW(argv[3], nullable(argv[4]), nullable(argv[5]), argv[2]);
        out_a(ok ? "set ok\n" : "set FAILED\n");
        return ok ? 0 : 1;
    }
    out_a("usage: inidump json FILE | dump FILE | get FILE SECTION KEY [DEFAULT]"
          " | set FILE SECTION KEY VALUE\n");
    return 2;
}
