/*
 * An SQLite client linked with Debian's libsqlite3.a: an in-memory database
 * filled through prepared statements with bound parameters inside a
 * transaction, then queried with aggregates, GROUP BY / HAVING, joins
 * (inner and left), a correlated subquery, a recursive CTE, a window
 * function, JSON functions, the math functions, an index-driven lookup, a
 * scalar and an aggregate function written in C, a constraint violation,
 * and a rollback.
 * Every result is printed; floats through both SQL printf() and C printf.
 *
 * The exit status is the number of order rows, modulo 256.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

static sqlite3 *db;

static void die(const char *what) {
  printf("%s failed: %s\n", what, sqlite3_errmsg(db));
  exit(100);
}

static void exec_sql(const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    printf("exec failed: %s\n", err);
    exit(101);
  }
}

/* Run a query and print each row as "label: col1 | col2 | ...". */
static void query(const char *label, const char *sql) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) die(label);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    printf("%s:", label);
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER: printf(" %lld", (long long)sqlite3_column_int64(st, i)); break;
        case SQLITE_FLOAT: printf(" %.4f", sqlite3_column_double(st, i)); break;
        case SQLITE_NULL: printf(" NULL"); break;
        default: printf(" %s", (const char *)sqlite3_column_text(st, i)); break;
      }
      if (i + 1 < sqlite3_column_count(st)) printf(" |");
    }
    printf("\n");
  }
  if (rc != SQLITE_DONE) die(label);
  sqlite3_finalize(st);
}

/* A scalar SQL function: the number of vowels in a text. */
static void fn_vowels(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  const unsigned char *s = sqlite3_value_text(argv[0]);
  int n = 0;
  for (; s && *s; s++) n += strchr("aeiouAEIOU", *s) != NULL;
  sqlite3_result_int(ctx, n);
}

/* An aggregate SQL function: the geometric mean. */
typedef struct {
  double logsum;
  long long n;
} GeoMean;

static void geomean_step(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  GeoMean *g = sqlite3_aggregate_context(ctx, sizeof *g);
  if (g && sqlite3_value_type(argv[0]) != SQLITE_NULL) {
    g->logsum += log(sqlite3_value_double(argv[0]));
    g->n++;
  }
}

static void geomean_final(sqlite3_context *ctx) {
  GeoMean *g = sqlite3_aggregate_context(ctx, 0);
  if (!g || g->n == 0) sqlite3_result_null(ctx);
  else sqlite3_result_double(ctx, exp(g->logsum / (double)g->n));
}

static const char *const CUSTOMERS[] = {"Ada", "Grace", "Linus", "Barbara", "Dennis", "Ken", "Margaret"};
static const char *const CITIES[] = {"London", "Arlington", "Helsinki", "Boston", "Murray Hill", "Murray Hill", "Boston"};
static const char *const PRODUCTS[] = {"widget", "gadget", "sprocket", "gizmo", "doohickey"};
static const double PRICES[] = {2.50, 10.00, 0.75, 99.99, 5.25};

int main(void) {
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) die("open");
  printf("sqlite %s, threadsafe %d\n", sqlite3_libversion(), sqlite3_threadsafe());
  if (sqlite3_create_function(db, "vowels", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, fn_vowels, NULL, NULL) != SQLITE_OK)
    die("create_function vowels");
  if (sqlite3_create_function(db, "geomean", 1, SQLITE_UTF8, NULL, NULL, geomean_step, geomean_final) != SQLITE_OK)
    die("create_function geomean");

  exec_sql(
      "CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, city TEXT);"
      "CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL CHECK (price > 0));"
      "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER REFERENCES customer(id),"
      "  product INTEGER REFERENCES product(id), qty INTEGER NOT NULL, note TEXT);"
      "CREATE INDEX orders_by_customer ON orders(customer);");

  exec_sql("BEGIN");
  sqlite3_stmt *ins;
  if (sqlite3_prepare_v2(db, "INSERT INTO customer (name, city) VALUES (?1, ?2)", -1, &ins, NULL) != SQLITE_OK) die("prepare customer");
  for (int i = 0; i < 7; i++) {
    sqlite3_bind_text(ins, 1, CUSTOMERS[i], -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 2, CITIES[i], -1, SQLITE_STATIC);
    if (sqlite3_step(ins) != SQLITE_DONE) die("insert customer");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  if (sqlite3_prepare_v2(db, "INSERT INTO product (name, price) VALUES (?, ?)", -1, &ins, NULL) != SQLITE_OK) die("prepare product");
  for (int i = 0; i < 5; i++) {
    sqlite3_bind_text(ins, 1, PRODUCTS[i], -1, SQLITE_STATIC);
    sqlite3_bind_double(ins, 2, PRICES[i]);
    if (sqlite3_step(ins) != SQLITE_DONE) die("insert product");
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  /* Orders from a small linear congruential generator: deterministic. Customer 7 orders nothing. */
  if (sqlite3_prepare_v2(db, "INSERT INTO orders (customer, product, qty, note) VALUES (?, ?, ?, ?)", -1, &ins, NULL) != SQLITE_OK)
    die("prepare orders");
  unsigned seed = 12345;
  int orders = 0;
  for (int i = 0; i < 200; i++) {
    seed = seed * 1103515245u + 12345u;
    int customer = 1 + (int)((seed >> 16) % 6);
    int product = 1 + (int)((seed >> 8) % 5);
    int qty = 1 + (int)(seed % 9);
    sqlite3_bind_int(ins, 1, customer);
    sqlite3_bind_int(ins, 2, product);
    sqlite3_bind_int(ins, 3, qty);
    if (i % 10 == 0) {
      char note[32];
      snprintf(note, sizeof note, "{\"rush\":%s,\"n\":%d}", i % 20 == 0 ? "true" : "false", i);
      sqlite3_bind_text(ins, 4, note, -1, SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(ins, 4);
    }
    if (sqlite3_step(ins) != SQLITE_DONE) die("insert order");
    sqlite3_reset(ins);
    orders++;
  }
  sqlite3_finalize(ins);
  exec_sql("COMMIT");
  printf("inserted %d orders, last rowid %lld, changes %d\n", orders, (long long)sqlite3_last_insert_rowid(db), sqlite3_total_changes(db));

  query("totals", "SELECT count(*), sum(qty), printf('%.2f', sum(qty * price)), round(avg(qty), 3), min(qty), max(qty)"
                  " FROM orders JOIN product ON product.id = orders.product");
  query("by customer",
        "SELECT c.name, count(o.id), coalesce(sum(o.qty), 0), printf('%.2f', coalesce(sum(o.qty * p.price), 0))"
        " FROM customer c LEFT JOIN orders o ON o.customer = c.id LEFT JOIN product p ON p.id = o.product"
        " GROUP BY c.id ORDER BY sum(o.qty * p.price) DESC NULLS LAST, c.name");
  query("by city", "SELECT city, count(DISTINCT c.id), sum(o.qty) FROM customer c JOIN orders o ON o.customer = c.id"
                   " GROUP BY city HAVING sum(o.qty) > 160 ORDER BY city");
  query("best product", "SELECT p.name, sum(o.qty) AS n FROM orders o JOIN product p ON p.id = o.product"
                        " GROUP BY p.id ORDER BY n DESC LIMIT 2");
  query("above average",
        "SELECT name FROM customer c WHERE (SELECT sum(qty) FROM orders WHERE customer = c.id) >"
        " (SELECT sum(qty) * 1.0 / count(DISTINCT customer) FROM orders) ORDER BY name");
  query("rank", "SELECT name, total, rank() OVER (ORDER BY total DESC), sum(total) OVER (ORDER BY total DESC ROWS UNBOUNDED PRECEDING)"
                " FROM (SELECT c.name, sum(o.qty) AS total FROM customer c JOIN orders o ON o.customer = c.id GROUP BY c.id)"
                " ORDER BY total DESC LIMIT 3");
  query("fibonacci", "WITH RECURSIVE fib(n, a, b) AS (SELECT 1, 0, 1 UNION ALL SELECT n + 1, b, a + b FROM fib WHERE n < 90)"
                     " SELECT n, a FROM fib WHERE n IN (10, 50, 90)");
  query("json", "SELECT count(*), sum(json_extract(note, '$.rush')), max(json_extract(note, '$.n')),"
                " json_object('rows', count(*), 'first', min(json_extract(note, '$.n')))"
                " FROM orders WHERE note IS NOT NULL");
  query("c functions", "SELECT name, vowels(name), printf('%.4f', geomean(price)) FROM product"
                       " WHERE vowels(name) >= 2 GROUP BY name ORDER BY name");
  query("geomean", "SELECT printf('%.6f', geomean(qty)) FROM orders");
  query("strings", "SELECT upper(name), length(city), substr(city, 1, 3), replace(city, ' ', '_'), instr(name, 'a'),"
                   " name LIKE '%a%', hex(name) FROM customer WHERE id IN (2, 5)");
  query("floats", "SELECT 1.0 / 3, printf('%.10f', 2.0 / 3), printf('%e', 1234.5), 1e308 * 10, round(-2.5), 7 % 3, -7 / 2");
  /* SQLite's math functions reach libm through a table of function pointers: on x86-64, sin, cos, tan, atan and
     trunc are IFUNCs in glibc's libm.a, so their addresses are taken in a static executable. */
  query("math", "SELECT printf('%.9f', sin(1) + cos(1)), printf('%.9f', tan(0.5)), printf('%.12f', atan(1) * 4),"
                " trunc(-2.7), printf('%.9f', sqrt(2) * pow(2, 0.5)), log10(1000), printf('%.9f', exp(1)), pi() > 3.14159");
  query("plan", "EXPLAIN QUERY PLAN SELECT * FROM orders WHERE customer = 3");

  /* A constraint violation, reported with its message, and a rolled-back transaction. */
  int rc = sqlite3_exec(db, "INSERT INTO customer (name, city) VALUES ('Ada', 'Paris')", NULL, NULL, NULL);
  printf("duplicate name: %s (%d)\n", sqlite3_errmsg(db), rc);
  rc = sqlite3_exec(db, "INSERT INTO product (name, price) VALUES ('free', 0)", NULL, NULL, NULL);
  printf("zero price: %s (%d)\n", sqlite3_errmsg(db), rc);
  exec_sql("BEGIN; DELETE FROM orders WHERE qty > 4; ");
  query("inside transaction", "SELECT count(*) FROM orders");
  exec_sql("ROLLBACK");
  query("after rollback", "SELECT count(*), total_changes() > 0 FROM orders");

  int n = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM orders", -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) die("count");
  n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  if (sqlite3_close(db) != SQLITE_OK) die("close");
  printf("closed, %d orders\n", n);
  return n % 256;
}
