/* Benchmark workload (doc/benchmarks.md): a small program on Debian's libsqlite3.a. */
#include <sqlite3.h>
#include <stdio.h>

static int row(void *unused, int n, char **values, char **columns) {
  (void)unused;
  for (int i = 0; i < n; i++) printf("%s%s=%s", i ? " " : "", columns[i], values[i] ? values[i] : "NULL");
  printf("\n");
  return 0;
}

int main(void) {
  sqlite3 *db;
  char *err = 0;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
  const char *sql =
      "create table t(a integer primary key, b text, c real);"
      "with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000)"
      "  insert into t(b, c) select printf('row %04d', i), i * 0.5 from n;"
      "create index tb on t(b);"
      "select count(*), sum(a), round(avg(c), 3), max(b) from t;"
      "select b, json_object('a', a, 'c', c) from t where a % 250 = 0 order by a desc;";
  if (sqlite3_exec(db, sql, row, 0, &err) != SQLITE_OK) {
    printf("error: %s\n", err);
    return 1;
  }
  sqlite3_close(db);
  return 0;
}
