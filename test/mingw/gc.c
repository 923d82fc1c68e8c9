/* For --gc-sections: with -ffunction-sections -fdata-sections, what main
 * does not reach is in COMDAT sections that the link can leave out. */
#include <stdio.h>
int used(int x) { return x + 1; }
int unused_marker(int x) { return x * 0x5eed1234; }
const char unused_data[] = "UNUSED-DATA-MARKER";
const char used_data[] = "USED-DATA-MARKER";
int main(void) { printf("%d %s\n", used(41), used_data); return 0; }
