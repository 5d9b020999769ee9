package dev.tessera.tests.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering every module keeps (ARCHITECTURE.md, "Modules and packages"): no package cycle anywhere, and
 * modules meet only through the shared libraries. The applications ({@code agent}, {@code controller},
 * {@code cli}) never reach into each other; the agent uses none of the Kubernetes, Jackson or YAML code the
 * controller and the CLI need; the libraries never depend on an application.
 *
 * <p>Runs on the main classes of every module (not their tests).
 */
class ArchitectureTest {

    private static final String API = "dev.tessera.api..";
    private static final String KUBE = "dev.tessera.kube..";
    private static final String LOCAL_CLUSTER = "dev.tessera.localcluster..";
    private static final String AGENT = "dev.tessera.agent..";
    private static final String CONTROLLER = "dev.tessera.controller..";
    private static final String CLI = "dev.tessera.cli..";
    private static final String LOGGING = "dev.tessera.logging..";
    private static final String[] KUBERNETES_JSON_YAML = {"io.fabric8..", "com.fasterxml..", "org.yaml..",
            "org.snakeyaml.."};

    private static JavaClasses classes;

    @BeforeAll
    static void importMainClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.tessera");
    }

    @Test
    void noPackageCycleAnywhere() {
        // Every package is its own slice: a cycle between two packages of one module fails as much as one
        // between modules.
        slices().matching("dev.tessera.(**)").should().beFreeOfCycles().check(classes);
    }

    @Test
    void subpackagesNeverReachBackIntoTheirCompositionRoot() {
        for (String root : new String[] {"dev.tessera.agent", "dev.tessera.controller", "dev.tessera.cli"}) {
            ArchRule rule = noClasses().that().resideInAPackage(root + "..").and().resideOutsideOfPackage(root)
                    .should().dependOnClassesThat().resideInAPackage(root)
                    .because("the root package of " + root + " wires the module; the parts it wires never see it");
            rule.check(classes);
        }
    }

    @Test
    void theAgentUsesOnlyTheMeshApiAndNoKubernetesJsonOrYamlCode() {
        noClasses().that().resideInAPackage(AGENT).should().dependOnClassesThat()
                .resideInAnyPackage(CONTROLLER, CLI, KUBE, LOCAL_CLUSTER)
                .because("the agent takes its state from the controller, through the mesh API only").check(classes);
        noClasses().that().resideInAPackage(AGENT).should().dependOnClassesThat()
                .resideInAnyPackage(KUBERNETES_JSON_YAML)
                .because("the agent must not load fabric8, Jackson or YAML (memory, start-up)").check(classes);
    }

    @Test
    void theControllerAndTheCliNeverReachIntoAnotherApplication() {
        noClasses().that().resideInAPackage(CONTROLLER).should().dependOnClassesThat()
                .resideInAnyPackage(AGENT, CLI).check(classes);
        noClasses().that().resideInAPackage(CLI).should().dependOnClassesThat()
                .resideInAnyPackage(AGENT, CONTROLLER).check(classes);
    }

    @Test
    void theLibrariesDependOnNoApplicationAndTheApiOnNoOtherModule() {
        noClasses().that().resideInAnyPackage(API, KUBE, LOCAL_CLUSTER).should().dependOnClassesThat()
                .resideInAnyPackage(AGENT, CONTROLLER, CLI).check(classes);
        noClasses().that().resideInAPackage(API).should().dependOnClassesThat()
                .resideInAnyPackage(KUBE, LOCAL_CLUSTER).check(classes);
        noClasses().that().resideInAPackage(API).should().dependOnClassesThat()
                .resideInAnyPackage(KUBERNETES_JSON_YAML)
                .because("the mesh API is what the agent loads").check(classes);
        noClasses().that().resideInAPackage(KUBE).should().dependOnClassesThat().resideInAPackage(LOCAL_CLUSTER)
                .check(classes);
    }

    @Test
    void theLoggingBackendNeedsNothingButSlf4jAndTheJdk() {
        noClasses().that().resideInAPackage(LOGGING).should().dependOnClassesThat()
                .resideOutsideOfPackages(LOGGING, "org.slf4j..", "java..")
                .because("every process loads it first; the agent's memory is a product goal").check(classes);
    }
}
