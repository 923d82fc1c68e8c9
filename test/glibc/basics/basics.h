/* Shared declarations of the basics program (main.c + value.c). */
#ifndef BASICS_H
#define BASICS_H

int magic_number(void);
const char *magic_label(void);

#endif
