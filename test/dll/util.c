/* No dllexport anywhere: a MinGW DLL then exports every global it defines. */
int util_twice(int x) { return 2 * x; }
int util_counter = 5;
const char util_name[] = "util";
static int hidden(void) { return 1; }
int util_hidden_user(void) { return hidden(); }
