/* Stand-in bcryptprimitives.dll for Wine < 9 (Debian 12 ships Wine 8.0).
 *
 * Rust std (>= 1.78) on Windows imports ProcessPrng from bcryptprimitives.dll. Wine 8.0 has no
 * such DLL, so every Rust .exe exits with code 53 before main (silently under WINEDEBUG=-all).
 * This DLL forwards ProcessPrng to BCryptGenRandom, which Wine 8 has. ci/windows-test.sh builds
 * it only when Wine lacks the DLL and copies it into the test prefix's system32; real Windows
 * (10 and later) has the DLL, and nothing we ship depends on this file.
 *
 * Build: x86_64-w64-mingw32-gcc -O2 -shared -s -o bcryptprimitives.dll bcryptprimitives.c -lbcrypt
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    (void)reason;
    (void)reserved;
    return TRUE;
}
