package inspect

import (
	"strings"
	"unicode/utf8"
)

// SQL-grammar check for identifier values.
//
// libinjection asks "would this string, spliced into a SQL string or number
// literal, change the statement?" and is tuned to leave prose alone, so it
// lets through fragments such as " ORDER BY 3--", " AND 1=1",
// "waitfor delay '0:0:5'" or "select @@version" that need a surrounding
// context to work. A value the spec declares as an identifier (a path
// segment, a short token) has no business containing SQL structure at all,
// so SQLGrammar tokenizes it as SQL and reports any keyword sequence,
// tautology, quote break, comment or stacked statement. It is too strict
// for prose ("sort in order by date"), which keeps libinjection alone.

// sqlTok is one token of the lexer.
type sqlTok struct {
	kind byte   // see tok* below
	text string // lower-cased word, operator or function name
}

const (
	tokWord    = 'w' // keyword or identifier
	tokNumber  = 'n' // 1, 0x41, 1.5e3
	tokString  = 's' // quoted literal, closed or not
	tokQuote   = 'q' // an unclosed quote: the rest of the value followed it
	tokOp      = 'o' // = < > ! | & + - * / % ^ ~ and their pairs
	tokLParen  = '('
	tokRParen  = ')'
	tokComma   = ','
	tokSemi    = ';'
	tokComment = 'c' // -- # /* (the text after it is dropped)
	tokVar     = 'v' // @x, @@x
	tokDot     = '.'
)

// maxSQLTokens bounds the work per value (the lexer is linear anyway; this
// bounds the token slice for long strings).
const maxSQLTokens = 256

// lexSQL appends the tokens of s to toks. It tokenizes the way MySQL, PostgreSQL, MSSQL and SQLite would
// (close enough for detection): inline /* */ comments are dropped except
// MySQL's executable /*! ... */ whose content is lexed, "--" followed by
// space, control or end and "#" start a line comment that ends the value.
func lexSQL(s string, toks []sqlTok) []sqlTok {
	// unclosed keeps the lexer linear: a value of many quotes that never
	// close is scanned to its end once per kind, not once per quote.
	var unclosed [3]bool
	for i := 0; i < len(s) && len(toks) < maxSQLTokens; {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0 || c == 0xa0:
			i++
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if i+2 < len(s) && s[i+2] == '!' {
				// MySQL executable comment: /*!50000select*/ runs its content.
				j := i + 3
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
				i = j
				continue
			}
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				toks = append(toks, sqlTok{kind: tokComment, text: "/*"})
				return toks
			}
			i += end + 4
		case c == '*' && i+1 < len(s) && s[i+1] == '/':
			i += 2 // end of an executable comment
		case c == '-' && i+1 < len(s) && s[i+1] == '-' && (i+2 == len(s) || s[i+2] <= ' ' || s[i+2] == '-'):
			toks = append(toks, sqlTok{kind: tokComment, text: "--"})
			return toks
		case c == '#':
			toks = append(toks, sqlTok{kind: tokComment, text: "#"})
			return toks
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			closed := false
			if unclosed[quoteIndex(c)] {
				j = len(s) // an earlier scan found no closing quote of this kind
			}
			for j < len(s) {
				if s[j] == '\\' && c != '`' {
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c { // doubled quote
						j += 2
						continue
					}
					closed = true
					break
				}
				j++
			}
			if !closed {
				unclosed[quoteIndex(c)] = true
				toks = append(toks, sqlTok{kind: tokQuote, text: string(c)})
				i++
				continue
			}
			toks = append(toks, sqlTok{kind: tokString, text: string(c)})
			i = j + 1
		case c == '@' && (i == 0 || !isWordByte(s[i-1])): // not the @ of an e-mail address
			j := i + 1
			for j < len(s) && (s[j] == '@' || isWordByte(s[j])) {
				j++
			}
			toks = append(toks, sqlTok{kind: tokVar, text: strings.ToLower(s[i:j])})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (isWordByte(s[j]) || s[j] == '.') {
				j++
			}
			if allDigitsOrHex(s[i:j]) {
				toks = append(toks, sqlTok{kind: tokNumber, text: s[i:j]})
			} else {
				toks = append(toks, sqlTok{kind: tokWord, text: strings.ToLower(s[i:j])})
			}
			i = j
		case isWordByte(c) || c >= 0x80:
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '$') {
				j++
			}
			if j == i { // a non-ASCII rune: part of no SQL token
				_, n := utf8.DecodeRuneInString(s[i:])
				i += n
				toks = append(toks, sqlTok{kind: tokWord, text: ""})
				continue
			}
			toks = append(toks, sqlTok{kind: tokWord, text: strings.ToLower(s[i:j])})
			i = j
		case c == '(':
			// "adj": right after a name or an inline comment, as in a call
			// ("sleep(5)", "sleep/**/(5)"); prose writes "user (for example".
			adj := ""
			if i > 0 && (isWordByte(s[i-1]) || s[i-1] == '/') {
				adj = "adj"
			}
			toks = append(toks, sqlTok{kind: tokLParen, text: adj})
			i++
		case c == ')':
			toks = append(toks, sqlTok{kind: tokRParen})
			i++
		case c == ',':
			toks = append(toks, sqlTok{kind: tokComma})
			i++
		case c == ';':
			toks = append(toks, sqlTok{kind: tokSemi})
			i++
		case c == '.':
			toks = append(toks, sqlTok{kind: tokDot})
			i++
		case strings.IndexByte("=<>!|&+-*/%^~:", c) >= 0:
			j := i + 1
			for j < len(s) && j < i+3 && strings.IndexByte("=<>!|&:", s[j]) >= 0 {
				j++
			}
			toks = append(toks, sqlTok{kind: tokOp, text: s[i:j]})
			i = j
		default:
			i++ // other punctuation ({ } [ ] ? \ $) is no SQL token
		}
	}
	return toks
}

func quoteIndex(c byte) int {
	switch c {
	case '\'':
		return 0
	case '"':
		return 1
	}
	return 2
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func allDigitsOrHex(s string) bool {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		for i := 2; i < len(s); i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return true
	}
	seenE := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '.':
		case (c == 'e' || c == 'E') && !seenE:
			seenE = true
		default:
			return false
		}
	}
	return true
}

// sqlLogic are the operators that join a predicate to the one before it.
var sqlLogic = map[string]bool{"or": true, "and": true, "xor": true, "||": true, "&&": true, "not": true}

// sqlCompareOp are comparison operators.
var sqlCompareOp = map[string]bool{
	"=": true, "==": true, "<": true, ">": true, "<=": true, ">=": true, "<>": true, "!=": true, "<=>": true,
}

// sqlStatement are keyword pairs that only SQL writes ("(" stands for a
// parenthesis, "@" a variable, "1" a number, "'" a quote, "*" a star).
var sqlStatement = map[string]map[string]bool{
	"union":     {"select": true, "all": true, "distinct": true, "(": true},
	"order":     {"by": true},
	"group":     {"by": true},
	"insert":    {"into": true},
	"delete":    {"from": true},
	"drop":      {"table": true, "database": true, "user": true, "procedure": true, "function": true, "view": true, "index": true, "schema": true},
	"create":    {"table": true, "database": true, "user": true, "procedure": true, "function": true, "login": true},
	"alter":     {"table": true, "database": true, "user": true, "login": true},
	"truncate":  {"table": true},
	"waitfor":   {"delay": true, "time": true},
	"exec":      {"master": true, "xp_cmdshell": true, "sp_executesql": true, "(": true, "immediate": true, "@": true},
	"execute":   {"master": true, "xp_cmdshell": true, "sp_executesql": true, "(": true, "immediate": true, "@": true},
	"into":      {"outfile": true, "dumpfile": true},
	"procedure": {"analyse": true},
	"declare":   {"@": true},
	"grant":     {"connect": true, "resource": true, "dba": true},
	"select":    {"*": true, "@": true, "(": true, "null": true, "1": true, "'": true},
	"having":    {"1": true, "(": true},
	"limit":     {"1": true},
	"sleep":     {"1": true},
}

// sqlFuncs are functions an injection calls for timing, exfiltration or
// encoding; name followed by '(' in an identifier is an attack.
var sqlFuncs = map[string]bool{
	"sleep": true, "pg_sleep": true, "benchmark": true, "waitfor": true, "load_file": true,
	"extractvalue": true, "updatexml": true, "char": true, "chr": true, "nchar": true, "concat": true,
	"concat_ws": true, "group_concat": true, "substring": true, "substr": true, "mid": true, "ascii": true,
	"ord": true, "hex": true, "unhex": true, "md5": true, "version": true, "database": true, "user": true,
	"current_user": true, "system_user": true, "session_user": true, "count": true,
	"cast": true, "convert": true, "elt": true, "make_set": true, "floor": true, "rand": true, "if": true,
	"ifnull": true, "nullif": true, "coalesce": true, "isnull": true, "iif": true,
	"dbms_pipe": true, "utl_inaddr": true, "utl_http": true, "xp_cmdshell": true, "randomblob": true,
	"to_char": true, "exp": true, "json_keys": true, "gtid_subset": true, "name_const": true,
	"db_name": true, "user_name": true, "host_name": true, "is_srvrolemember": true, "pg_read_file": true,
	"lo_import": true, "dblink": true, "sysdate": true, "length": true, "len": true,
}

// sqlNoArgFuncs are the functions in sqlFuncs that injections call
// without arguments ("version()"); the others need one to count.
var sqlNoArgFuncs = map[string]bool{
	"version": true, "database": true, "user": true, "current_user": true, "system_user": true,
	"session_user": true, "sysdate": true, "rand": true, "db_name": true, "user_name": true, "host_name": true,
}

// sqlArticles follow ORDER BY, SELECT ... in English, never in SQL.
var sqlArticles = map[string]bool{"a": true, "an": true, "the": true, "one": true, "your": true, "this": true, "which": true}

// sqlAfterBreak are words that, right after the quote or parenthesis that
// ends the literal a value was spliced into, continue a SQL statement and
// are rare in prose there (OR and AND need a predicate: see the logic rule).
var sqlAfterBreak = map[string]bool{
	"union": true, "having": true, "waitfor": true, "procedure": true, "limit": true,
	"rlike": true, "regexp": true, "xor": true, "div": true, "collate": true,
}

// sqlStacked are statements that follow a ';'.
var sqlStacked = map[string]bool{
	"select": true, "insert": true, "update": true, "delete": true, "drop": true, "create": true,
	"alter": true, "exec": true, "execute": true, "declare": true, "shutdown": true, "waitfor": true,
	"grant": true, "copy": true, "truncate": true, "begin": true, "load": true,
	"call": true, "merge": true, "union": true, "revoke": true,
}

func isOperand(t sqlTok) bool {
	switch t.kind {
	case tokNumber, tokString, tokVar, tokLParen, tokQuote:
		return true
	case tokWord:
		return t.text != "" && !sqlLogic[t.text]
	}
	return false
}

// isLiteral is an operand that prose rarely writes after OR/AND: a number,
// a quoted literal, a variable, TRUE/FALSE/NULL.
func isLiteral(t sqlTok) bool {
	switch t.kind {
	case tokNumber, tokString, tokVar, tokQuote:
		return true
	case tokWord:
		return t.text == "true" || t.text == "false" || t.text == "null"
	}
	return false
}

// comparison reports whether toks[k:] starts a comparison with a right-hand
// side: = < > != <> <=> and the keyword forms that need a literal or a
// parenthesis after them (LIKE 'x', IN (...), IS NULL, BETWEEN 1).
func comparison(toks []sqlTok, k int) bool {
	if k+1 >= len(toks) {
		return false
	}
	t, n := toks[k], toks[k+1]
	switch {
	case t.kind == tokOp && sqlCompareOp[t.text]:
		return isOperand(n)
	case t.kind != tokWord:
		return false
	case t.text == "like" || t.text == "rlike" || t.text == "regexp" || t.text == "between" || t.text == "glob":
		return isLiteral(n) || n.kind == tokLParen
	case t.text == "in":
		return n.kind == tokLParen
	case t.text == "is":
		return n.text == "null" || n.text == "not" && k+2 < len(toks) && toks[k+2].text == "null" || n.text == "true" || n.text == "false"
	case t.text == "sounds":
		return n.text == "like"
	}
	return false
}

// SQLGrammar reports whether s, a value that should be a plain identifier,
// contains SQL structure: a statement keyword pair (UNION SELECT, ORDER BY,
// WAITFOR DELAY ...), a call of a SQL function, a logical operator followed
// by a comparison or a literal (OR 1=1, AND 'a'='a', OR TRUE), a quote or
// closing parenthesis followed by SQL, a comment after SQL-looking text, a
// stacked statement or a server variable (@@version). Like libinjection it
// reads s in three contexts: as it is, and as the rest of a '...' or "..."
// literal it was spliced into (the first quote of that kind ends the
// literal). It returns a short label of the rule that matched. Ordinary
// identifiers pass: O'Brien, select-chair, rock-and-roll, "Tom and Jerry",
// C#. It is safe for concurrent use and linear in len(s).
func SQLGrammar(s string) (rule string, ok bool) {
	if !sqlCandidate(s) {
		return "", false
	}
	var buf [48]sqlTok
	if rule, ok := sqlRules(lexSQL(s, buf[:0])); ok {
		return rule, true
	}
	for _, q := range []byte{'\'', '"'} {
		i := strings.IndexByte(s, q)
		if i == 0 && strings.IndexByte(s[1:], q) == len(s)-2 {
			continue // "#0000FF": a quoted name, not a literal broken out of
		}
		if i >= 0 {
			toks := lexSQL(s[i+1:], append(buf[:0], sqlTok{kind: tokQuote, text: string(q)}))
			if rule, ok := sqlRules(toks); ok {
				return rule, true
			}
		}
	}
	return "", false
}

func sqlRules(toks []sqlTok) (string, bool) {
	for i, t := range toks {
		var prev, n sqlTok
		if i > 0 {
			prev = toks[i-1]
		}
		if i+1 < len(toks) {
			n = toks[i+1]
		}
		switch t.kind {
		case tokVar:
			if strings.HasPrefix(t.text, "@@") {
				return "server variable", true
			}
		case tokSemi:
			if n.kind == tokWord && sqlStacked[n.text] {
				return "stacked statement", true
			}
		case tokComment:
			// A comment that cuts off the rest of a statement.
			switch prev.kind {
			case tokQuote, tokRParen, tokSemi:
				return "comment", true
			case tokNumber:
				if i >= 2 && (toks[i-2].kind == tokOp || toks[i-2].kind == tokComma || sqlStatementWord(toks[i-2].text)) {
					return "comment", true
				}
			case tokWord:
				if sqlAfterBreak[prev.text] || prev.text == "null" || prev.text == "true" || prev.text == "false" {
					return "comment", true
				}
			}
		case tokWord:
			if follow, ok := sqlStatement[t.text]; ok {
				key := n.text
				switch n.kind {
				case tokLParen:
					key = "("
				case tokVar:
					key = "@"
				case tokNumber:
					key = "1"
				case tokString, tokQuote:
					key = "'"
				case tokOp:
					if n.text != "*" {
						key = ""
					}
				}
				if follow[key] && !(i+2 < len(toks) && toks[i+2].kind == tokWord && sqlArticles[toks[i+2].text]) {
					return t.text + " " + key, true
				}
				if t.text == "update" || t.text == "select" {
					// SELECT x FROM / UPDATE t SET within a few tokens.
					want := "from"
					if t.text == "update" {
						want = "set"
					}
					for k := 2; k <= 4 && i+k < len(toks) && !sqlArticles[n.text]; k++ {
						if toks[i+k].kind == tokWord && toks[i+k].text == want {
							return t.text + " " + want, true
						}
					}
				}
			}
			if n.kind == tokLParen && n.text == "adj" && sqlFuncs[t.text] &&
				(sqlNoArgFuncs[t.text] || i+2 < len(toks) && toks[i+2].kind != tokRParen) {
				return "function " + t.text, true
			}
			if sqlLogic[t.text] || t.text == "having" || t.text == "where" {
				if rule, ok := predicate(toks, i, prev); ok {
					return rule, true
				}
			}
		case tokOp:
			if t.text == "||" || t.text == "&&" {
				if rule, ok := predicate(toks, i, prev); ok {
					return rule, true
				}
			}
		case tokQuote, tokRParen:
			// The quote or parenthesis that ends the literal the value was
			// spliced into, followed by SQL.
			j := i + 1
			for j < len(toks) && toks[j].kind == tokRParen {
				j++
			}
			if j >= len(toks) {
				continue
			}
			n := toks[j]
			switch {
			case n.kind == tokWord && sqlAfterBreak[n.text] && j+1 < len(toks):
				return "quote break", true
			case t.kind == tokQuote && (n.kind == tokSemi || n.kind == tokComment):
				return "quote break", true
			case t.kind == tokRParen && n.kind == tokComment && i > 0 && isLiteral(toks[i-1]):
				return "quote break", true // 1)--, null)#
			case t.kind == tokQuote && comparison(toks, j):
				return "quote break", true
			case t.kind == tokQuote && n.kind == tokOp && (n.text == "||" || n.text == "+" || n.text == "|" || n.text == "-") && j+1 < len(toks) && isLiteral(toks[j+1]):
				return "quote break", true
			case n.kind == tokComma && j+1 < len(toks) && (toks[j+1].text == "null" || toks[j+1].kind == tokLParen && t.kind == tokQuote):
				return "quote break", true
			}
		}
	}
	return "", false
}

// predicate checks what follows the logical operator at toks[i]: an
// operand and a comparison (OR 1=1, AND 'a'='a', OR x LIKE 'y', AND
// (1)=(1)), or a literal that ends the value (OR 1, AND false--, ' OR '1).
func predicate(toks []sqlTok, i int, prev sqlTok) (string, bool) {
	j := i + 1
	for j < len(toks) && toks[j].kind == tokLParen {
		j++
	}
	if j >= len(toks) || !isOperand(toks[j]) {
		return "", false
	}
	if toks[j].kind == tokQuote && j+1 < len(toks) && (toks[j+1].kind == tokWord || toks[j+1].kind == tokNumber) {
		j++ // ' OR '1 (the application's quote closes it)
		if j+1 == len(toks) {
			return "boolean", true
		}
	}
	k := j + 1
	for k < len(toks) && toks[k].kind == tokRParen {
		k++
	}
	if k < len(toks) && comparison(toks, k) {
		return "tautology", true
	}
	end := k == len(toks) || toks[k].kind == tokComment || toks[k].kind == tokSemi
	if end && isLiteral(toks[j]) && toks[j].kind != tokString &&
		(i == 0 || prev.kind == tokQuote || prev.kind == tokRParen || prev.kind == tokString) {
		return "boolean", true
	}
	return "", false
}

func sqlStatementWord(w string) bool {
	switch w {
	case "by", "limit", "offset", "or", "and", "select", "null", "sleep", "delay":
		return true
	}
	return false
}

// sqlCandidate is a cheap prefilter: an identifier made only of letters,
// digits and . _ - ~ (a slug, an ID, a file name) has no SQL to find.
func sqlCandidate(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isWordByte(c) || c == '.' || c == '-' || c == '~' || c >= 0x80) {
			return true
		}
	}
	return strings.Contains(s, "--")
}
