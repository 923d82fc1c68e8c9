/* The interface between the host and a plugin: one function. */
#ifndef HOTSWAP_PLUGIN_H
#define HOTSWAP_PLUGIN_H

/* What the plugin answers: a text and a number. The text belongs to the
 * plugin and is gone once the plugin is unloaded: the host copies it. */
struct plugin_answer {
  const char *text;
  long number;
};

/* The one symbol the host looks up with dlsym. */
#define PLUGIN_ENTRY "plugin_answer"
typedef void (*plugin_answer_fn)(struct plugin_answer *out);

#endif
