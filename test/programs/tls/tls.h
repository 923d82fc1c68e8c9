#ifndef TLS_TEST_H
#define TLS_TEST_H
extern __thread int t;
extern __thread int z;
extern __thread long arr_tls[4];
extern __thread char aligned_tls;
extern __thread int zz[8];
extern __thread int ie_own;
extern __thread int ie_own_bss;

int *le_addr_t(void);
int *le_addr_z(void);
long *le_addr_arr(void);
int le_sum(void);
void le_write(int d);
int le_read_own(void);
int le_read_own_bss(void);

int *ie_addr_t(void);
char *ie_addr_aligned(void);
int *ie_addr_zz(void);
int *ie_addr_own(void);
int *ie_addr_own_bss(void);
int ie_sum(void);
void ie_write(int v);
#endif
