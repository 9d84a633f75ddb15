package config

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestSettingNames(t *testing.T) {
	for _, tc := range []struct {
		spec SettingSpec
		want []string
	}{
		{SettingSpec{Name: "concurrency"}, []string{"concurrency"}},
		{SettingSpec{Name: "cost-unit"}, []string{"cost-unit", "cost_unit"}},
		{SettingSpec{Name: "limit", Repeatable: true}, []string{"limit", "limits"}},
		{SettingSpec{Name: "new-stage", Repeatable: true}, []string{"new-stage", "new_stage", "new-stages", "new_stages"}},
		// A section key wins over a setting's alias.
		{SettingSpec{Name: "target", Repeatable: true}, []string{"target"}},
	} {
		if got := SettingNames(tc.spec); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func TestSchemaSections(t *testing.T) {
	s := Schema(SchemaParts{Settings: []SettingSpec{
		{Name: "concurrency", Type: SettingInt, Doc: "conversations in flight", Default: "4"},
		{Name: "threshold", Repeatable: true, Doc: "a gate"},
		{Name: "config", Doc: "the file"},
	}})
	props := s["properties"].(map[string]any)
	for _, k := range append(slices.Clone(sectionKeys), "concurrency", "threshold", "thresholds") {
		if _, ok := props[k]; !ok {
			t.Errorf("no property %s", k)
		}
	}
	if _, ok := props["config"]; ok {
		t.Error("config is a property")
	}
	if len(props) != len(sectionKeys)+3 {
		t.Errorf("%d properties", len(props))
	}
	tp := props["targets"].(map[string]any)["items"].(map[string]any)["properties"].(map[string]any)
	for _, k := range targetKeys {
		if tp[k] == nil || targetDocs[k] == "" {
			t.Errorf("target key %s: no schema or doc", k)
		}
	}
	jp := props["judge"].(map[string]any)["properties"].(map[string]any)
	for _, k := range judgeKeys {
		if jp[k] == nil || judgeDocs[k] == "" {
			t.Errorf("judge key %s: no schema or doc", k)
		}
	}
	data, err := json.Marshal(props["concurrency"])
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); !strings.Contains(got, `"type":"integer"`) || !strings.Contains(got, "(default 4)") {
		t.Errorf("concurrency: %s", got)
	}
}
