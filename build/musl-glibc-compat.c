/* galley: the glibc-only entry points that Debian's static archives call, for a musl link.
 *
 * Debian compiles its libraries against glibc with _FORTIFY_SOURCE=2, so their static archives
 * (libseccomp.a, libz.a, LLVM's libunwind.a) call glibc's checked variants (__fprintf_chk,
 * __memcpy_chk, ...) and, for scanf, its ISO C99 names (__isoc99_sscanf). musl has none of
 * them. galley's musl builder (musl-target.sh) compiles this file against musl's headers and
 * adds it to the libc.a that rustc links for a musl target: each function checks what glibc
 * checks (a buffer overflow aborts, as glibc's does), then calls musl's own function. Other
 * glibc-only symbols an archive may need are not here: its link fails with the symbol's name.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <syslog.h>
#include <unistd.h>

void __chk_fail(void)
{
    static const char message[] = "*** buffer overflow detected ***: terminated\n";
    write(2, message, sizeof message - 1);
    abort();
}

#define CHECK(condition) do { if (!(condition)) __chk_fail(); } while (0)

int __vfprintf_chk(FILE *f, int flag, const char *format, va_list ap)
{
    (void)flag;
    return vfprintf(f, format, ap);
}

int __fprintf_chk(FILE *f, int flag, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = __vfprintf_chk(f, flag, format, ap);
    va_end(ap);
    return n;
}

int __vprintf_chk(int flag, const char *format, va_list ap)
{
    return __vfprintf_chk(stdout, flag, format, ap);
}

int __printf_chk(int flag, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = __vfprintf_chk(stdout, flag, format, ap);
    va_end(ap);
    return n;
}

int __vdprintf_chk(int fd, int flag, const char *format, va_list ap)
{
    (void)flag;
    return vdprintf(fd, format, ap);
}

int __dprintf_chk(int fd, int flag, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = __vdprintf_chk(fd, flag, format, ap);
    va_end(ap);
    return n;
}

int __vsnprintf_chk(char *s, size_t n, int flag, size_t size, const char *format, va_list ap)
{
    (void)flag;
    CHECK(n <= size);
    return vsnprintf(s, n, format, ap);
}

int __snprintf_chk(char *s, size_t n, int flag, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int written = __vsnprintf_chk(s, n, flag, size, format, ap);
    va_end(ap);
    return written;
}

int __vsprintf_chk(char *s, int flag, size_t size, const char *format, va_list ap)
{
    (void)flag;
    CHECK(size > 0);
    int n = vsnprintf(s, size, format, ap);
    CHECK(n < 0 || (size_t)n < size);
    return n;
}

int __sprintf_chk(char *s, int flag, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = __vsprintf_chk(s, flag, size, format, ap);
    va_end(ap);
    return n;
}

int __vasprintf_chk(char **s, int flag, const char *format, va_list ap)
{
    (void)flag;
    return vasprintf(s, format, ap);
}

int __asprintf_chk(char **s, int flag, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = vasprintf(s, format, ap);
    (void)flag;
    va_end(ap);
    return n;
}

void __vsyslog_chk(int priority, int flag, const char *format, va_list ap)
{
    (void)flag;
    vsyslog(priority, format, ap);
}

void __syslog_chk(int priority, int flag, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsyslog(priority, format, ap);
    (void)flag;
    va_end(ap);
}

void *__memcpy_chk(void *to, const void *from, size_t n, size_t size)
{
    CHECK(n <= size);
    return memcpy(to, from, n);
}

void *__memmove_chk(void *to, const void *from, size_t n, size_t size)
{
    CHECK(n <= size);
    return memmove(to, from, n);
}

void *__mempcpy_chk(void *to, const void *from, size_t n, size_t size)
{
    CHECK(n <= size);
    return mempcpy(to, from, n);
}

void *__memset_chk(void *to, int c, size_t n, size_t size)
{
    CHECK(n <= size);
    return memset(to, c, n);
}

void __explicit_bzero_chk(void *to, size_t n, size_t size)
{
    CHECK(n <= size);
    explicit_bzero(to, n);
}

char *__strcpy_chk(char *to, const char *from, size_t size)
{
    CHECK(strlen(from) < size);
    return strcpy(to, from);
}

char *__stpcpy_chk(char *to, const char *from, size_t size)
{
    CHECK(strlen(from) < size);
    return stpcpy(to, from);
}

char *__strncpy_chk(char *to, const char *from, size_t n, size_t size)
{
    CHECK(n <= size);
    return strncpy(to, from, n);
}

char *__stpncpy_chk(char *to, const char *from, size_t n, size_t size)
{
    CHECK(n <= size);
    return stpncpy(to, from, n);
}

char *__strcat_chk(char *to, const char *from, size_t size)
{
    CHECK(strlen(to) + strlen(from) < size);
    return strcat(to, from);
}

char *__strncat_chk(char *to, const char *from, size_t n, size_t size)
{
    CHECK(strlen(to) + strnlen(from, n) < size);
    return strncat(to, from, n);
}

ssize_t __read_chk(int fd, void *buffer, size_t n, size_t size)
{
    CHECK(n <= size);
    return read(fd, buffer, n);
}

ssize_t __pread64_chk(int fd, void *buffer, size_t n, off_t offset, size_t size)
{
    CHECK(n <= size);
    return pread(fd, buffer, n, offset);
}

ssize_t __pread_chk(int fd, void *buffer, size_t n, off_t offset, size_t size)
{
    return __pread64_chk(fd, buffer, n, offset, size);
}

ssize_t __readlink_chk(const char *path, char *buffer, size_t n, size_t size)
{
    CHECK(n <= size);
    return readlink(path, buffer, n);
}

char *__getcwd_chk(char *buffer, size_t n, size_t size)
{
    CHECK(n <= size);
    return getcwd(buffer, n);
}

char *__realpath_chk(const char *path, char *resolved, size_t size)
{
    CHECK(size >= PATH_MAX);
    return realpath(path, resolved);
}

char *__fgets_chk(char *s, size_t size, int n, FILE *f)
{
    CHECK(n >= 0 && (size_t)n <= size);
    return fgets(s, n, f);
}

size_t __fread_chk(void *to, size_t size, size_t item, size_t n, FILE *f)
{
    CHECK(item == 0 || n <= size / item);
    return fread(to, item, n, f);
}

long __fdelt_chk(long fd)
{
    CHECK(fd >= 0 && fd < FD_SETSIZE);
    return fd / (8 * (long)sizeof(long));
}

int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t size)
{
    CHECK(n <= size / sizeof *fds);
    return poll(fds, n, timeout);
}

int __isoc99_vsscanf(const char *s, const char *format, va_list ap)
{
    return vsscanf(s, format, ap);
}

int __isoc99_sscanf(const char *s, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = vsscanf(s, format, ap);
    va_end(ap);
    return n;
}

int __isoc99_vfscanf(FILE *f, const char *format, va_list ap)
{
    return vfscanf(f, format, ap);
}

int __isoc99_fscanf(FILE *f, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = vfscanf(f, format, ap);
    va_end(ap);
    return n;
}

int __isoc99_vscanf(const char *format, va_list ap)
{
    return vscanf(format, ap);
}

int __isoc99_scanf(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int n = vscanf(format, ap);
    va_end(ap);
    return n;
}
