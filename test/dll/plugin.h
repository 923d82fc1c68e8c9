#ifdef BUILDING_PLUGIN
#define API __declspec(dllexport)
#else
#define API __declspec(dllimport)
#endif
struct op { const char *name; int (*fn)(int, int); };
API extern const struct op plugin_ops[];
API extern int plugin_nops;
API extern int plugin_attached;
API int plugin_apply(const char *name, int a, int b);
API int plugin_state(void);
