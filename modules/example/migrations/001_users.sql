create table users (
  name  text unique not null,
  email text
);
