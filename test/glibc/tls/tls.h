/*
 * Thread-local variables defined across units, each unit compiled with a
 * different -ftls-model (see glibc.test.ts). A static link relaxes every
 * access model to local-exec.
 */
#ifndef TLS_H
#define TLS_H

/* tls_gd.c: global-dynamic (compiled -fPIC so the model is not tightened) */
extern __thread int gd_counter;     /* initialised: .tdata */
extern __thread long gd_big[32];    /* zero: .tbss */
int gd_bump(int by);                /* also reads le_value (extern, GD) */

/* tls_ld.c: local-dynamic (file-local variables, -fPIC) */
int ld_bump(void);
long ld_sum(void);

/* tls_ie.c: initial-exec */
extern __thread char ie_name[16];
void ie_set_name(const char *s);
int ie_read_gd(void);               /* gd_counter through IE */

/* tls_le.c: local-exec */
extern __thread int le_value;
int le_bump(void);
long le_read_gd_big(int i);         /* gd_big through LE */

#endif
