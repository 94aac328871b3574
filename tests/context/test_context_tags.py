"""Tag extraction with the real tree-sitter grammars: definitions, ranges and references per language."""

from __future__ import annotations

import textwrap

import pytest

from agent.context.tags import Symbol, Tags, extract


def tags_of(grammar: str, source: str) -> Tags:
    return extract(grammar, textwrap.dedent(source).lstrip("\n").encode())


def by_qualname(tags: Tags) -> dict[str, Symbol]:
    return {s.qualname: s for s in tags.symbols}


def test_python_definitions_decorators_nesting_and_module_data() -> None:
    tags = tags_of(
        "python",
        '''
        import functools
        from .utils import slugify as slug, parse_date

        DEFAULT_TIMEOUT = 30
        A, B = 1, 2


        @functools.lru_cache(maxsize=None)
        def load(path: str) -> dict:
            def inner():
                return 1
            return parse_date(path)


        class Parser(BaseParser, metaclass=Meta):
            """Parses things."""

            strict: bool = False

            @property
            def name(self):
                return slug(self.raw)

            async def fetch(self, url):
                return await self.client.get(url)
        ''',
    )
    symbols = by_qualname(tags)
    assert list(symbols) == [
        "DEFAULT_TIMEOUT",
        "A",
        "B",
        "load",
        "Parser",
        "Parser.strict",
        "Parser.name",
        "Parser.fetch",
    ]
    assert symbols["load"].kind == "function" and (symbols["load"].start, symbols["load"].end) == (8, 12)
    assert symbols["load"].head == 9  # the def line, after its decorator
    assert symbols["load"].signature == "def load(path: str) -> dict:"
    assert symbols["Parser"].kind == "class" and (symbols["Parser"].start, symbols["Parser"].end) == (15, 25)
    assert symbols["Parser"].signature == "class Parser(BaseParser, metaclass=Meta):"
    assert symbols["Parser.name"].kind == "method" and symbols["Parser.name"].start == 20
    assert symbols["Parser.strict"].kind == "field"
    assert symbols["A"].parent == -1 and symbols["B"].parent == -1  # siblings, not nested
    assert "inner" not in {s.name for s in tags.symbols}  # local to load()
    assert {"parse_date", "slugify", "BaseParser", "slug", "lru_cache", "get", "property"} <= set(tags.refs)
    assert not tags.syntax_errors


def test_javascript_functions_classes_methods_and_exports() -> None:
    tags = tags_of(
        "javascript",
        """
        import { format } from "./format.js";

        export function render(node, options) {
          return format(node).trim();
        }

        export const parse = (text) => tokenize(text);

        class Renderer extends Base {
          constructor(opts) {
            super(opts);
          }
          draw(shape) {
            return this.canvas.stroke(shape);
          }
        }

        const VERSION = "1.2.0";
        """,
    )
    symbols = by_qualname(tags)
    assert list(symbols) == [
        "render",
        "parse",
        "Renderer",
        "Renderer.constructor",
        "Renderer.draw",
        "VERSION",
    ]
    assert (
        symbols["render"].start == 3
        and symbols["render"].signature == "export function render(node, options)"
    )
    assert symbols["parse"].kind == "function"
    assert symbols["Renderer.draw"].kind == "method" and (
        symbols["Renderer.draw"].start,
        symbols["Renderer.draw"].end,
    ) == (13, 15)
    assert symbols["VERSION"].kind == "variable"
    assert {"format", "trim", "tokenize", "Base", "stroke"} <= set(tags.refs)


@pytest.mark.parametrize("grammar", ["typescript", "tsx"])
def test_typescript_interfaces_types_enums_namespaces(grammar: str) -> None:
    tags = tags_of(
        grammar,
        """
        export interface Shape {
          area(): number;
        }

        export type Point = { x: number; y: number };

        enum Color { Red, Green }

        export class Circle implements Shape {
          private radius: number = 1;
          area(): number {
            return Math.PI * square(this.radius);
          }
        }

        export const scale = (p: Point, k: number): Point => ({ x: p.x * k, y: p.y * k });

        namespace Geometry {
          export function distance(a: Point, b: Point): number {
            return Math.hypot(a.x - b.x, a.y - b.y);
          }
        }
        """,
    )
    symbols = by_qualname(tags)
    assert list(symbols) == [
        "Shape",
        "Point",
        "Color",
        "Circle",
        "Circle.area",
        "scale",
        "Geometry",
        "Geometry.distance",
    ]
    assert symbols["Shape"].kind == "interface" and symbols["Point"].kind == "type"
    assert symbols["Circle.area"].kind == "method" and symbols["Circle.area"].start == 11
    assert symbols["Geometry.distance"].kind == "function"  # a namespace's function is no method
    assert {"Shape", "Point", "square", "hypot"} <= set(tags.refs)


def test_go_functions_methods_with_receivers_types_and_values() -> None:
    tags = tags_of(
        "go",
        """
        package store

        import "errors"

        const MaxKeys = 128

        var ErrMissing = errors.New("missing")

        type Store struct {
            items map[string]Item
        }

        type Reader interface {
            Get(key string) (Item, error)
        }

        func (s *Store) Get(key string) (Item, error) {
            item, ok := s.items[key]
            if !ok {
                return Item{}, ErrMissing
            }
            return item, nil
        }

        func NewStore() *Store {
            return &Store{items: make(map[string]Item)}
        }
        """,
    )
    symbols = by_qualname(tags)
    assert list(symbols) == ["MaxKeys", "ErrMissing", "Store", "Reader", "Store.Get", "NewStore"]
    assert symbols["Store.Get"].kind == "method" and (
        symbols["Store.Get"].start,
        symbols["Store.Get"].end,
    ) == (17, 23)
    assert symbols["Store"].signature.startswith("type Store struct")
    assert symbols["MaxKeys"].kind == "constant" and symbols["ErrMissing"].kind == "variable"
    assert {"New", "Item", "Store", "make"} <= set(tags.refs)


def test_rust_items_impl_blocks_and_attributes() -> None:
    tags = tags_of(
        "rust",
        """
        use std::fmt;

        #[derive(Debug, Clone)]
        pub struct Config {
            pub name: String,
        }

        pub trait Validate {
            fn validate(&self) -> Result<(), String>;
        }

        impl Config {
            pub fn new(name: &str) -> Self {
                Config { name: name.to_string() }
            }
        }

        impl fmt::Display for Config {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{}", self.name)
            }
        }

        const LIMIT: usize = 10;

        macro_rules! config {
            ($n:expr) => { Config::new($n) };
        }
        """,
    )
    names = [(s.qualname, s.kind) for s in tags.symbols]
    assert names == [
        ("Config", "class"),
        ("Validate", "interface"),
        ("Validate.validate", "method"),
        ("Config", "impl"),
        ("Config.new", "method"),
        ("Config", "impl"),
        ("Config.fmt", "method"),
        ("LIMIT", "constant"),
        ("config", "macro"),
    ]
    struct = tags.symbols[0]
    assert (struct.start, struct.head, struct.end) == (3, 4, 6)  # the attribute belongs to the struct
    assert {"to_string", "write", "Formatter", "Config"} <= set(tags.refs)


def test_java_classes_methods_constructors_fields() -> None:
    tags = tags_of(
        "java",
        """
        package com.example.cache;

        import java.util.Map;

        public class LruCache<K, V> extends BaseCache implements Cache<K, V> {
            private final int capacity;

            public LruCache(int capacity) {
                this.capacity = capacity;
            }

            @Override
            public V get(K key) {
                return store.lookup(key);
            }

            static class Node {
                int hits;
            }
        }

        interface Cache<K, V> {
            V get(K key);
        }
        """,
    )
    symbols = by_qualname(tags)
    assert list(symbols) == [
        "LruCache",
        "LruCache.capacity",
        "LruCache.LruCache",
        "LruCache.get",
        "LruCache.Node",
        "LruCache.Node.hits",
        "Cache",
        "Cache.get",
    ]
    assert symbols["LruCache.get"].start == 12 and symbols["LruCache.get"].kind == "method"
    assert symbols["Cache"].kind == "interface"
    assert {"BaseCache", "lookup", "Cache"} <= set(tags.refs)


def test_c_functions_through_declarators_structs_macros() -> None:
    tags = tags_of(
        "c",
        """
        #include <stdlib.h>

        #define BUF_SIZE 4096
        #define MIN(a, b) ((a) < (b) ? (a) : (b))

        typedef struct buffer {
            char *data;
            size_t len;
        } buffer_t;

        static int counter = 0;

        static char **split_lines(const char *text, size_t *count) {
            char **lines = malloc(BUF_SIZE);
            *count = count_lines(text);
            return lines;
        }

        int main(void) { return run(split_lines("", NULL)); }
        """,
    )
    symbols = by_qualname(tags)
    assert list(symbols) == ["BUF_SIZE", "MIN", "buffer_t", "buffer", "counter", "split_lines", "main"]
    assert symbols["split_lines"].kind == "function" and (
        symbols["split_lines"].start,
        symbols["split_lines"].end,
    ) == (13, 17)
    assert symbols["split_lines"].signature == "static char **split_lines(const char *text, size_t *count)"
    assert symbols["buffer"].kind == "class" and symbols["MIN"].kind == "macro"
    assert {"malloc", "count_lines", "run", "split_lines"} <= set(tags.refs)


def test_cpp_namespaces_classes_and_out_of_class_methods() -> None:
    tags = tags_of(
        "cpp",
        """
        #include <vector>

        namespace geo {

        class Polygon : public Shape {
          public:
            double area() const;
            void add(Point p) { points_.push_back(p); }
          private:
            std::vector<Point> points_;
        };

        }  // namespace geo

        double geo::Polygon::area() const {
            return shoelace(points_);
        }

        template <typename T>
        T clamp(T v, T lo, T hi) { return v < lo ? lo : (v > hi ? hi : v); }
        """,
    )
    symbols = by_qualname(tags)
    assert list(symbols) == ["geo", "geo.Polygon", "geo.Polygon.add", "geo.Polygon.area", "clamp"]
    assert symbols["geo.Polygon.add"].kind == "method"
    area = symbols["geo.Polygon.area"]
    assert area.name == "area" and (area.start, area.end) == (15, 17)
    assert symbols["clamp"].start == 19  # the template line belongs to the function
    assert {"Shape", "push_back", "shoelace", "Point"} <= set(tags.refs)


def test_syntax_errors_give_partial_tags_not_a_failure() -> None:
    tags = tags_of("python", "def good():\n    return 1\n\ndef broken(:\n    pass\n")
    assert tags.syntax_errors
    assert "good" in {s.name for s in tags.symbols}


def test_a_grammar_without_queries_is_refused() -> None:
    with pytest.raises(ValueError, match="no tag queries"):
        extract("ruby", b"def x; end")
